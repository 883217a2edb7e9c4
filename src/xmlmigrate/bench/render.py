"""The gate's verdict as a table: per benchmark and metric, the limit, base and head times, the
ratio with its interval, and the verdict; then what the gate set aside and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the gate's machinery loads only when a gate runs, not with every command
    from xmlmigrate.bench.gate import Decision, GateResult


def print_gate(result: GateResult, out: Console | None = None) -> None:
    console = out if out is not None else Console(soft_wrap=True)
    conf = 1 - result.alpha
    table = Table(show_edge=False, title=f"head / base, {conf:.2%} intervals per benchmark")
    for heading in ("benchmark", "metric", "limit", "base s", "head s", "ratio", "interval", "n"):
        left = heading in ("benchmark", "metric")
        table.add_column(heading, justify="left" if left else "right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    colour = {"pass": "green", "warn": "yellow", "fail": "bold red"}

    def row(label: str, d: Decision) -> None:
        table.add_row(
            label,
            d.metric,
            f"+{d.threshold:.0%}",
            f"{d.base:.4f}",
            f"{d.head:.4f}",
            f"{d.ratio:.3f}",
            f"{d.low:.3f}-{d.high:.3f}" if d.low is not None and d.high is not None else "n/a",
            str(d.n),
            f"[{colour[d.verdict]}]{d.verdict.upper()}[/]",
        )

    for bench in result.benchmarks:
        name = bench.name.split("::")[-1]
        for i, d in enumerate(bench.decisions):
            row(name if i == 0 else "", d)
        for d in bench.confirmed or []:
            row("  measured again", d)
    if console.is_terminal:
        console.print(table)
    else:  # a log file or a pipe: do not squeeze the table into 80 columns
        wide = Console(width=max(120, console.width), soft_wrap=True, file=console.file)
        wide.on_broken_pipe = console.on_broken_pipe  # type: ignore[method-assign]
        wide.print(table)
    for bench in result.benchmarks:
        name = bench.name.split("::")[-1]
        for key, (old, new) in bench.counter_changes.items():
            console.print(f"[yellow]counter changed[/yellow] {name}: {key} {old} -> {new}")
        if bench.discarded_rounds:
            console.print(f"{name}: {bench.discarded_rounds} rounds discarded (waiting for a CPU)")
    if result.set_aside:
        console.print(
            f"{result.set_aside} blocks set aside and run again (one side ran on a slower "
            "machine, or waited for a CPU)"
        )
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(
        f"[{colour[result.verdict]}]Gate {result.verdict.upper()}[/] in {result.seconds:.0f} s "
        f"({result.blocks} blocks; base {result.base_commit[:12]}, head {result.head_commit[:12]})"
    )

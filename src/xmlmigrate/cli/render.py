"""How results are shown: run summaries, stage splits, values (the gate's table is
``xmlmigrate.bench.render``'s)."""

from __future__ import annotations

from datetime import date, datetime

from rich.table import Table

from xmlmigrate.cli.common import console
from xmlmigrate.db import redact_url
from xmlmigrate.model import RunStats


def print_summary(stats: RunStats, db_url: str, batch_size: int) -> None:
    console.print(
        f"\n[bold]Run {stats.run_id[:12]}[/bold] on {redact_url(db_url)} (batch size {batch_size})"
    )
    console.print(
        f"Records: [bold]{stats.records:,}[/bold]   success {stats.success:,}   "
        f"failed {stats.failed:,}   rejected {stats.rejected:,}   "
        f"warnings {stats.warnings:,}"
    )
    console.print(
        f"Values: truncated {stats.truncated_values:,}   defaulted {stats.defaulted_values:,}   "
        f"invalid→NULL {stats.invalid_values:,}   clamped {stats.clamped_values:,}"
    )
    if stats.warning_codes:
        console.print(
            "Warnings by code: "
            + ", ".join(f"{code} {n:,}" for code, n in stats.warning_codes.most_common())
        )
    if stats.reasons:
        console.print("Top reasons:")
        for reason, n in stats.reasons.most_common(5):
            console.print(f"  {n:>6,}  {reason}")
    if stats.rows_per_table:
        rows = Table(title="Rows written", show_edge=False)
        rows.add_column("table")
        rows.add_column("rows", justify="right")
        for table, n in stats.rows_per_table.items():
            rows.add_row(table, f"{n:,}")
        console.print(rows)
    print_fit(stats)
    console.print(f"Elapsed {stats.elapsed:.2f} s   [bold]{stats.rec_per_min:,.0f} rec/min[/bold]")
    console.print(
        f"Workers {stats.workers or 'none (in-process)'}   threads {stats.threads}   "
        f"connections opened "
        f"{stats.connections_opened}   transactions {stats.transactions} "
        f"({stats.failed_transactions} refused by the database)   statements "
        f"{stats.statements}   pages read {stats.source_queries}   duplicate keys caught "
        f"before the database {stats.cache_duplicates}"
    )
    if stats.peak_rss_mb:
        console.print(
            "Peak memory (RSS): "
            + "   ".join(f"{k} {v:,.0f} MB" for k, v in sorted(stats.peak_rss_mb.items()))
        )
    if stats.first_commit_s is not None:
        console.print(
            f"First batch committed {stats.first_commit_s:.2f} s after the run started"
            + (
                f" ({stats.coordinator_batches} batch(es) transformed by the coordinator while "
                "the workers started)"
                if stats.coordinator_batches
                else ""
            )
        )
    print_stage_split(stats)
    if stats.interrupted and not stats.batches:
        console.print(
            "[yellow]Interrupted before any batch committed:[/yellow] every app stays "
            "pending for the next run."
        )
    elif stats.interrupted:
        console.print(
            "[yellow]Interrupted:[/yellow] finished batches were committed; the rest "
            "stays pending for the next run."
        )
    if stats.crash:
        console.print(
            f"[red]A worker crashed:[/red] {stats.crash}; batches it held were not "
            "logged and stay pending for the next run.",
            highlight=False,
        )


def print_fit(stats: RunStats, shown: int = 20) -> None:
    """How much of the contract the migrated documents filled, and what they never did."""
    fit = stats.fit
    if not fit or not fit["apps"] or not fit["columns"]:
        return
    never = fit["never_filled"]
    console.print(
        f"Contract fit: the documents filled {fit['filled']:,} of {fit['columns']:,} mapped "
        f"columns ({100 * fit['filled_share']:.0f} %)"
        + (f"; never filled ({len(never):,}):" if never else ""),
        highlight=False,
    )
    for where in never[:shown]:
        console.print(f"  {where}", highlight=False, markup=False)
    if len(never) > shown:
        console.print(f"  … and {len(never) - shown:,} more (--metrics-out lists them all)")


def print_stage_split(stats: RunStats) -> None:
    """Where the time went. Read, write and wait are the coordinator's wall time; parse,
    validate and map are summed over the workers (they overlap each other and the writes)."""
    coordinator = ("read", "write", "wait")
    busy = sum(v for k, v in stats.stage_seconds.items() if k not in coordinator)
    split = Table(title="Time by stage", show_edge=False)
    split.add_column("stage")
    split.add_column("seconds", justify="right")
    split.add_column("share", justify="right")
    split.add_column("where")
    for stage, secs in stats.stage_seconds.items():
        if stage in coordinator:
            base, where = stats.elapsed, "coordinator, share of elapsed"
        else:
            base = busy if stats.workers else stats.elapsed
            where = (
                "workers, share of transform" if stats.workers else "in-process, share of elapsed"
            )
        share = secs / base * 100 if base else 0.0
        split.add_row(stage, f"{secs:.2f}", f"{share:.0f} %", where)
    console.print(split)


def json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else str(value)


def show(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)

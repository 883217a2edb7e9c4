"""pytest-benchmark JSON and baseline files → a Markdown results table and PNG plots.

Per benchmark group, every case is set against the group's reference case (the defaults:
batch size 100, all flags on, in-process workers; else the group's first case): before,
after, gain, and the spread of the measurement. The batch-size sweep names the best batch
size. Plots: throughput against batch size, each flag combination, and the stage split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE_PARAMS = ({"batch_size": 100}, {"flag": None}, {"workers": 0})


@dataclass
class Case:
    group: str
    name: str
    params: dict[str, Any]
    median: float
    stddev: float
    rec_per_min: float | None
    stage_seconds: dict[str, float]


def load_cases(paths: list[Path]) -> list[Case]:
    cases = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        for b in data.get("benchmarks", []):
            extra = b.get("extra_info", {})
            cases.append(
                Case(
                    group=str(b.get("group") or "ungrouped"),
                    name=str(b["name"]),
                    params=dict(b.get("params") or {}),
                    median=float(b["stats"]["median"]),
                    stddev=float(b["stats"]["stddev"]),
                    rec_per_min=extra.get("rec_per_min"),
                    stage_seconds=dict(extra.get("stage_seconds") or {}),
                )
            )
    return cases


def _reference(cases: list[Case]) -> Case:
    for wanted in REFERENCE_PARAMS:
        for c in cases:
            if all(k in c.params and c.params[k] == v for k, v in wanted.items()):
                return c
    return cases[0]


def best_batch_size(cases: list[Case]) -> tuple[int, float] | None:
    """The batch size of the fastest case with all flags on."""
    sweep = [
        c
        for c in cases
        if "batch_size" in c.params and c.rec_per_min and c.params.get("flag") is None
    ]
    if not sweep:
        return None
    best = max(sweep, key=lambda c: c.rec_per_min or 0.0)
    return int(best.params["batch_size"]), float(best.rec_per_min or 0.0)


def gate_markdown(gates: list[dict[str, Any]]) -> list[str]:
    """The verdicts of ``xmlmigrate perf gate --json`` files: one table per gate run."""
    lines: list[str] = []
    for g in gates:
        lines += [
            f"## CI gate: {g['verdict'].upper()} ({g.get('_file', '')})",
            "",
            f"Base `{g['base_ref']}` ({g['base_commit'][:12]}) against head "
            f"{g['head_commit'][:12]}: {g['blocks']} blocks, {1 - g['alpha']:.2%} intervals, "
            f"{g['seconds']:.0f} s"
            + (
                f", head slowed by {g['inject_head']:.0%} on purpose"
                if g.get("inject_head")
                else ""
            )
            + ".",
            "",
            "| benchmark | metric | limit | base (s) | head (s) | ratio | interval | verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for bench in g["benchmarks"]:
            name = str(bench["name"]).split("::")[-1]
            for d in bench["decisions"]:
                interval = f"{d['low']:.3f}-{d['high']:.3f}" if d["low"] is not None else "n/a"
                lines.append(
                    f"| {name} | {d['metric']} | +{d['threshold']:.0%} | {d['base']:.4f} | "
                    f"{d['head']:.4f} | {d['ratio']:.3f} | {interval} | {d['verdict'].upper()} |"
                )
            for key, (old, new) in (bench.get("counter_changes") or {}).items():
                lines.append(f"| {name} | counter `{key}` | exact | {old} | {new} | | | changed |")
        lines.append("")
    return lines


def markdown(
    cases: list[Case], baselines: list[dict[str, Any]], gates: list[dict[str, Any]] | None = None
) -> str:
    lines = ["# Performance results", ""]
    lines += gate_markdown(gates or [])
    groups: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(c.group, []).append(c)
    for group, members in groups.items():
        ref = _reference(members)
        lines += [
            f"## {group}",
            "",
            f"Reference: `{ref.name}`",
            "",
            "| optimization | before (s) | after (s) | gain | std dev (s) | rec/min |",
            "|---|---|---|---|---|---|",
        ]
        for c in members:
            gain = ref.median / c.median - 1 if c.median else 0.0
            rate = f"{c.rec_per_min:,.0f}" if c.rec_per_min else ""
            lines.append(
                f"| {c.name} | {ref.median:.3f} | {c.median:.3f} | {gain * 100:+.1f} % | "
                f"{c.stddev:.3f} | {rate} |"
            )
        lines.append("")
    best = best_batch_size(cases)
    if best is not None:
        lines += [f"**Best batch size: {best[0]}** ({best[1]:,.0f} rec/min).", ""]
    if baselines:
        lines += [
            "## Baselines",
            "",
            "| file | runs | median rec/min | CV | confidence |",
            "|---|---|---|---|---|",
        ]
        for b in baselines:
            lines.append(
                f"| {b['_file']} | {b['runs']} | {b['median_rec_per_min']:,.0f} | "
                f"{b['cv'] * 100:.1f} % | {b['confidence']} |"
            )
        lines.append("")
    return "\n".join(lines)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plots(cases: list[Case], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    sweep = sorted(
        (c for c in cases if "batch_size" in c.params and c.rec_per_min),
        key=lambda c: int(c.params["batch_size"]),
    )
    if sweep:
        fig, ax = plt.subplots(figsize=(7, 4))
        by_group: dict[str, list[Case]] = {}
        for c in sweep:  # one line per flag combination
            label = "all on" if c.params.get("flag") is None else f"no {c.params['flag']}"
            by_group.setdefault(label, []).append(c)
        for group, members in by_group.items():
            ax.plot(
                [int(c.params["batch_size"]) for c in members],
                [float(c.rec_per_min or 0) for c in members],
                marker="o",
                label=group,
            )
        ax.set_xscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("rec/min")
        ax.set_title("Throughput against batch size, per flag combination")
        ax.legend(fontsize=8)
        written.append(_save(plt, fig, out / "throughput_vs_batch_size.png"))
    flags = [
        c
        for c in cases
        if "flag" in c.params and c.rec_per_min and c.params.get("batch_size", 100) == 100
    ]
    if flags:
        fig, ax = plt.subplots(figsize=(7, 4))
        labels = ["all on" if c.params["flag"] is None else f"no {c.params['flag']}" for c in flags]
        ax.bar(labels, [float(c.rec_per_min or 0) for c in flags])
        ax.set_ylabel("rec/min")
        ax.set_title("Throughput by flag combination (batch size 100)")
        written.append(_save(plt, fig, out / "throughput_by_flags.png"))
    staged = [c for c in cases if c.stage_seconds]
    if staged:
        fig, ax = plt.subplots(figsize=(8, 4))
        stages = sorted({s for c in staged for s in c.stage_seconds})
        bottom = [0.0] * len(staged)
        for stage in stages:
            values = [c.stage_seconds.get(stage, 0.0) for c in staged]
            ax.bar([c.name for c in staged], values, bottom=bottom, label=stage)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel("seconds")
        ax.set_title("Time by stage")
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        ax.legend(fontsize=7)
        written.append(_save(plt, fig, out / "stage_split.png"))
    return written


def build_report(
    bench: list[Path], baselines: list[Path], out: Path, gates: list[Path] | None = None
) -> tuple[Path, list[Path]]:
    out.mkdir(parents=True, exist_ok=True)
    cases = load_cases(bench)
    gate_runs = []
    for path in gates or []:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "gate" not in data:
            raise ValueError(f"{path} is not the JSON of 'xmlmigrate perf gate'")
        gate_runs.append({**data["gate"], "_file": path.name})
    if not cases and not baselines and not gate_runs:
        raise ValueError("no benchmarks in the given files")
    loaded = []
    for path in baselines:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["_file"] = path.name
        loaded.append(data)
    table = out / "RESULTS.md"
    table.write_text(markdown(cases, loaded, gate_runs), encoding="utf-8")
    return table, plots(cases, out)

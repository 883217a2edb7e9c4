"""pytest-benchmark JSON and baseline files → a Markdown results table and PNG plots.

Per benchmark group (and per input file, when several are given: each labelled by its run),
every case of a *sweep* is set against the sweep's own reference case (the defaults: batch
size 100, all flags on; in-process workers): before, after, gain, and the spread. Groups whose
cases measure different things (stages, targets) get no gain column: a ratio between parsing
and validating, or between two databases, is no optimisation. The knob effects measured in
interleaved rounds (``tests/perf/test_sweep.py::test_knob_effects``) give each knob's effect
with a 95 % interval, and the best batch size only where it beats the next best
significantly. Plots carry error bars, the corpus, the database and the machine; the stage
split shows worker and coordinator seconds side by side, not stacked as if they added up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmlmigrate.bench.stats import welch_differs

REFERENCE_PARAMS = ({"batch_size": 100}, {"flag": None}, {"workers": 0})


WORKER_STAGES = ("parse", "validate", "map")  # summed over worker processes
COORDINATOR_STAGES = ("read", "write", "wait")  # the coordinator's own time


@dataclass
class Case:
    group: str
    name: str
    params: dict[str, Any]
    median: float
    stddev: float
    rec_per_min: float | None
    stage_seconds: dict[str, float]
    source: str = ""  # the input file (the run) it comes from
    machine: str = ""
    records: int | None = None
    profile: str | None = None
    database: str | None = None
    knob_effects: dict[str, Any] | None = None
    rounds: int | None = None  # rounds behind the median and std dev (pytest-benchmark's)


def load_cases(paths: list[Path]) -> list[Case]:
    cases = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = data.get("machine_info") or {}
        machine = f"{info.get('node', '?')} ({info.get('cpu', {}).get('count', '?')} CPUs)"
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
                    source=path.name,
                    machine=machine,
                    records=extra.get("records"),
                    profile=extra.get("profile"),
                    database=extra.get("database"),
                    knob_effects=extra.get("knob_effects"),
                    rounds=b["stats"].get("rounds"),
                )
            )
    return cases


def gain_is_significant(ref: Case, case: Case) -> bool | None:
    """Whether ``case``'s time differs from the reference's beyond their rounds' noise
    (Welch's t at 95 %, on the rounds' spread); None when the rounds are not known or too few
    (fewer than 2 a side)."""
    n1, n2 = ref.rounds or 0, case.rounds or 0
    if n1 < 2 or n2 < 2:
        return None
    return welch_differs(ref.median, ref.stddev, n1, case.median, case.stddev, n2)


def _gain_text(ref: Case, case: Case) -> str:
    gain = ref.median / case.median - 1 if case.median else 0.0
    text = f"{gain * 100:+.1f} %"
    if case is ref:
        return text
    significant = gain_is_significant(ref, case)
    if significant is None:
        return f"{text} (rounds unknown: no significance)"
    return text if significant else f"{text} (n.s., {case.rounds} rounds)"


def _databases(cases: list[Case]) -> str:
    found = sorted({c.database for c in cases if c.database})
    if not found:
        return "database not recorded"
    return found[0] if len(found) == 1 else "databases " + ", ".join(found)


def _reference(cases: list[Case]) -> Case | None:
    """The sweep's reference case, or None for a group whose cases measure different things."""
    for wanted in REFERENCE_PARAMS:
        for c in cases:
            if all(k in c.params and c.params[k] == v for k, v in wanted.items()):
                return c
    return None


def knob_markdown(cases: list[Case]) -> list[str]:
    lines: list[str] = []
    for c in cases:
        k = c.knob_effects
        if not k:
            continue
        rounds = min((len(t) for t in k["times"].values()), default=0)
        lines += [
            f"## Knob effects ({c.source}, {rounds} interleaved rounds, {k['confidence']:.0%} "
            "intervals)",
            "",
            f"Against the default {k['default']}: throughput change of each variant.",
            "",
            "| variant | knobs | throughput change (interval) | verdict |",
            "|---|---|---|---|",
        ]
        for e in k["effects"]:
            lines.append(f"| {e['name']} | {e['knobs']} | {e['claim']} | {e['verdict']} |")
        for name, why in (k.get("not_compared") or {}).items():
            lines.append(f"| {name} | | not measured | {why} |")
        lines += ["", f"**{k['best_batch_size'][0].upper()}{k['best_batch_size'][1:]}.**", ""]
    return lines


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
    several = len({c.source for c in cases}) > 1
    groups: dict[str, list[Case]] = {}
    for c in cases:
        key = f"{c.group} — {c.source}" if several else c.group
        groups.setdefault(key, []).append(c)
    for group, members in groups.items():
        ref = _reference(members)
        first = members[0]
        corpus = (
            f"{first.records} documents" + (f", profile {first.profile}" if first.profile else "")
            if first.records
            else "corpus not recorded"
        )
        lines += [f"## {group}", "", f"{corpus}; {_databases(members)}; "
                  f"machine {first.machine}", ""]  # fmt: skip
        if ref is None:
            lines += [
                "No reference: the cases of this group measure different things, so no gain is "
                "computed between them.",
                "",
                "| case | median (s) | std dev (s) | rec/min |",
                "|---|---|---|---|",
            ]
            for c in members:
                rate = f"{c.rec_per_min:,.0f}" if c.rec_per_min else ""
                lines.append(f"| {c.name} | {c.median:.3f} | {c.stddev:.3f} | {rate} |")
            lines.append("")
            continue
        lines += [
            f"Reference: `{ref.name}`",
            "",
            "| optimization | before (s) | after (s) | gain | std dev (s) | rec/min |",
            "|---|---|---|---|---|---|",
        ]
        for c in members:
            rate = f"{c.rec_per_min:,.0f}" if c.rec_per_min else ""
            lines.append(
                f"| {c.name} | {ref.median:.3f} | {c.median:.3f} | {_gain_text(ref, c)} | "
                f"{c.stddev:.3f} | {rate} |"
            )
        lines += [
            "",
            "n.s.: the difference is within the rounds' noise (Welch's t, 95 %): no claim.",
            "",
        ]
    knob_lines = knob_markdown(cases)
    lines += knob_lines
    if not knob_lines and any("batch_size" in c.params for c in cases):
        lines += [
            "Best batch size: not named — the sweep's cases ran one after another, not in "
            "interleaved rounds; `test_knob_effects` measures that.",
            "",
        ]
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


def _rate_error(c: Case) -> float:
    """±1 std dev of the rounds, in rec/min (the rate's relative spread is the time's)."""
    if not c.rec_per_min or not c.median:
        return 0.0
    return float(c.rec_per_min) * c.stddev / c.median


def _caption(cases: list[Case]) -> str:
    c = cases[0]
    corpus = f"{c.records} docs" + (f" ({c.profile})" if c.profile else "") if c.records else ""
    parts = [p for p in (corpus, c.database or "", c.machine, c.source) if p]
    return " · ".join(parts)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plots(cases: list[Case], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

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
            ax.errorbar(
                [int(c.params["batch_size"]) for c in members],
                [float(c.rec_per_min or 0) for c in members],
                yerr=[_rate_error(c) for c in members],
                marker="o",
                capsize=3,
                label=group,
            )
        ax.set_xscale("log")
        # every batch size measured is a labelled tick (a log axis labels only 10², 10³)
        sizes = sorted({int(c.params["batch_size"]) for c in sweep})
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("batch size")
        ax.set_ylabel("rec/min (error bars: ±1 std dev of the rounds)")
        ax.set_title("Throughput against batch size, per flag combination\n" + _caption(sweep))
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        written.append(_save(plt, fig, out / "throughput_vs_batch_size.png"))
    flags = [
        c
        for c in cases
        if "flag" in c.params and c.rec_per_min and c.params.get("batch_size", 100) == 100
    ]
    if flags:
        fig, ax = plt.subplots(figsize=(7, 4))
        labels = ["all on" if c.params["flag"] is None else f"no {c.params['flag']}" for c in flags]
        ax.bar(
            labels,
            [float(c.rec_per_min or 0) for c in flags],
            yerr=[_rate_error(c) for c in flags],
            capsize=4,
        )
        ax.set_ylabel("rec/min (±1 std dev)")
        ax.set_title("Throughput by flag combination (batch size 100)\n" + _caption(flags))
        written.append(_save(plt, fig, out / "throughput_by_flags.png"))
    staged = [c for c in cases if c.stage_seconds]
    if staged:
        # horizontal bars, one row per case: worker seconds (summed over the workers) and the
        # coordinator's seconds as two bars side by side — they overlap in time, so they are
        # never stacked onto one another
        height = max(3.0, 0.45 * len(staged) + 1.5)
        fig, ax = plt.subplots(figsize=(9, height))
        rows = list(range(len(staged)))
        for part, stages, offset in (
            ("workers", WORKER_STAGES, -0.2),
            ("coordinator", COORDINATOR_STAGES, 0.2),
        ):
            left = [0.0] * len(staged)
            for stage in stages:
                values = [c.stage_seconds.get(stage, 0.0) for c in staged]
                ax.barh(
                    [r + offset for r in rows], values, height=0.38, left=left,
                    label=f"{part}: {stage}",
                )  # fmt: skip
                left = [a + v for a, v in zip(left, values, strict=True)]
        ax.set_yticks(rows, [c.name for c in staged], fontsize=7)
        ax.invert_yaxis()  # the first case on top, and each case's workers bar above its other
        ax.set_xlabel("seconds (upper bar of a case: workers, lower: coordinator)")
        ax.set_title("Time by stage\n" + _caption(staged))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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

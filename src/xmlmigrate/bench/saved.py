"""Comparing a run with a *saved* one (``pytest tests/perf --benchmark-compare --perf-fail-over=5``).

A saved run and the current one are two processes at two times, perhaps minutes or days
apart, on a machine whose speed drifts. Each benchmark that times its rounds through
``xmlmigrate.bench.probe.measured`` carries, per round, its CPU time (client, workers and
PostgreSQL backends), wall time, run-queue wait and a *yardstick* — the CPU time of a fixed
loop run beside the round — plus exact counters. The comparison here:

* per round, CPU time divided by the yardstick (how much work, in units of "this machine's
  speed right now"); rounds that waited for a CPU more than ``max_wait`` of their wall time
  are left out;
* the shift between the two sets of rounds on a log scale: the Hodges–Lehmann estimate
  (median of all pairwise differences) with its exact Mann–Whitney confidence interval;
* FAIL only when the estimated slowdown exceeds the threshold *and* the interval excludes no
  change; PASS when the interval's upper end is within the threshold; otherwise
  INCONCLUSIVE;
* counters compared exactly; every change reported.

How often this cries wolf, and how often it catches a real slowdown, is measured by
``xmlmigrate perf calibrate --saved`` (the table in docs/performance.md). Where it cannot be trusted, the
plugin re-measures the saved run's commit against the working tree with the A/B gate instead
(``xmlmigrate.bench.gate``).
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmlmigrate.bench.gate import MAX_WAIT, Decision, judge, subset_command, subset_env
from xmlmigrate.bench.gate_options import BENCHMARK_STORAGE, RECORDS, ROUNDS
from xmlmigrate.bench.stats import shift_ratio


def normalised(rounds: list[Mapping[str, float]], max_wait: float = MAX_WAIT) -> list[float]:
    """log(CPU seconds / yardstick seconds) of each round that did not wait for a CPU."""
    return [
        math.log(r["cpu"] / r["yardstick"])
        for r in rounds
        if r.get("cpu", 0) > 0
        and r.get("yardstick", 0) > 0
        and r.get("wait", 0) <= max_wait * r.get("wall", 0)
    ]


def decide(
    base_rounds: list[Mapping[str, float]],
    head_rounds: list[Mapping[str, float]],
    threshold: float,
    alpha: float,
) -> Decision:
    base, head = normalised(base_rounds), normalised(head_rounds)
    if not base or not head:
        return Decision("cpu/yardstick", threshold, 0, math.nan, math.nan, math.nan, None, None,
                        "warn")  # fmt: skip
    estimate = shift_ratio(base, head, alpha)
    return Decision(
        "cpu/yardstick",
        threshold,
        min(len(base), len(head)),
        math.exp(statistics.median(base)),
        math.exp(statistics.median(head)),
        estimate.ratio,
        estimate.low,
        estimate.high,
        judge(estimate, threshold),
    )


@dataclass
class SavedVerdict:
    name: str
    decision: Decision | None  # None: the benchmark carries no CPU samples
    counter_changes: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "n/a" if self.decision is None else self.decision.verdict


def compare_saved(
    current: Mapping[str, Mapping[str, Any]],
    saved: Mapping[str, Mapping[str, Any]],
    threshold: float,
    alpha: float = 0.01,
) -> list[SavedVerdict]:
    """Each current benchmark (fullname → ``extra_info``) against its saved twin (fullname →
    the saved benchmark's dict)."""
    out = []
    comparable = [n for n in current if n in saved]
    per = alpha / max(len(comparable), 1)  # family-wise over the benchmarks compared
    for name in comparable:
        now = (current[name] or {}).get("gate") or {}
        then = ((saved[name] or {}).get("extra_info") or {}).get("gate") or {}
        if not now.get("rounds") or not then.get("rounds"):
            out.append(SavedVerdict(name, None))
            continue
        decision = decide(then["rounds"], now["rounds"], threshold, per)
        a, b = then.get("counters") or {}, now.get("counters") or {}
        changes = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
        out.append(SavedVerdict(name, decision, changes))
    return out


# -- calibration: how often the saved comparison fails, unchanged and slowed on purpose ----------


def run_subset(out: Path, inject: float, db_url: str | None, records: int, rounds: int) -> None:
    """The gate subset of tests/perf in a fresh process, its results saved to ``out``."""
    cmd = subset_command(out, records, rounds, ["tests/perf"], db_url)
    env = subset_env(inject)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"the gate subset failed (exit {proc.returncode}):\n{tail}")


def _benchmarks(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(b["fullname"]): b for b in data["benchmarks"]}


def calibrate_saved(
    runs: int,
    injects: list[float],
    threshold: float,
    db_url: str | None,
    records: int = RECORDS.value,
    rounds: int = ROUNDS.value,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[float, list[str]]:
    """``runs`` trials per injected slowdown: a baseline saved by one process, compared by a
    later one (slowed by the injected share); the combined verdict of each trial."""
    verdicts: dict[float, list[str]] = {pct: [] for pct in injects}
    with tempfile.TemporaryDirectory(prefix="xmlmigrate-calibrate-") as tmp:
        for trial in range(runs):
            base = Path(tmp) / f"base{trial}.json"
            run_subset(base, 0.0, db_url, records, rounds)
            saved = _benchmarks(base)
            for pct in injects:
                head = Path(tmp) / f"head{trial}_{pct}.json"
                run_subset(head, pct, db_url, records, rounds)
                current = {n: b.get("extra_info") or {} for n, b in _benchmarks(head).items()}
                result = compare_saved(current, saved, threshold)
                states = [v.verdict for v in result]
                verdict = "fail" if "fail" in states else "warn" if "warn" in states else "pass"
                verdicts[pct].append(verdict)
                progress(f"trial {trial + 1}: +{pct:.0%} injected → {verdict.upper()}")
    return verdicts


# -- where pytest-benchmark keeps the runs it saves (--benchmark-autosave, --benchmark-save) ------


def machine_id() -> str:
    """The folder of this machine under the storage, as ``pytest_benchmark.utils.get_machine_id``
    names it (pytest-benchmark is a test dependency only): e.g. ``Linux-CPython-3.11-64bit``."""
    return "-".join(
        (
            platform.system(),
            platform.python_implementation(),
            ".".join(platform.python_version_tuple()[:2]),
            platform.architecture()[0],
        )
    )


def saved_runs(storage: Path = BENCHMARK_STORAGE, machine: str | None = None) -> list[Path]:
    """The runs saved under ``storage/<machine>/``, oldest first: pytest-benchmark names each
    ``<counter>_<name>.json`` with a 4-digit counter one above the highest there."""
    runs = []
    for path in (storage / (machine or machine_id())).glob("[0-9][0-9][0-9][0-9]*_*.json"):
        counter = path.name.split("_", 1)[0]
        if counter.isdigit():
            runs.append((int(counter), path.name, path))
    return [path for _, _, path in sorted(runs)]


def latest_saved_run(storage: Path = BENCHMARK_STORAGE, machine: str | None = None) -> Path | None:
    """The newest run pytest-benchmark saved for this machine under ``storage``, if any."""
    runs = saved_runs(storage, machine)
    return runs[-1] if runs else None

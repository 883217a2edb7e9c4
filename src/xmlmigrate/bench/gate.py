"""``xmlmigrate perf gate``: same-run, interleaved A/B comparison of a base commit and the head.

The base is checked out in a temporary git worktree. Blocks alternate the order of the sides
(A B, B A, A B, ...); in each block each side runs the gate subset of ``tests/perf``
(``-m gate``) in its own process, against the same database server, with its own code on
``PYTHONPATH``. Every benchmark round records wall time, CPU time (client processes plus
PostgreSQL backends) and run-queue wait (``xmlmigrate.bench.probe``); rounds in which waiting
for a CPU takes more than ``max_wait`` of the wall time are discarded, and a block left
without a valid round is run again.

Per benchmark and metric the block medians give paired log ratios head/base; their median is
the estimate and the Wilcoxon signed-rank interval (Walsh averages, exact null distribution)
at confidence ``1 - 0.01/m`` for ``m`` benchmarks is the 99 % family-wise interval.

* FAIL: the ratio exceeds ``1 + threshold`` and the interval's lower bound exceeds 1
  (CPU time at the threshold, wall time at twice the threshold);
* PASS: the interval's upper bound is within ``1 + threshold``;
* WARN: neither (inconclusive): blocks are added up to ``max_blocks``.

A benchmark that fails is measured again with fresh blocks, and only a second failure fails
the gate. Deterministic counters (records, rows, SQL statements, transactions) are compared
exactly and every change is reported.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FAMILY_ALPHA = 0.01
METRICS = ("cpu", "wall")


class GateError(RuntimeError):
    """The gate could not measure (a side failed to run, a ref does not exist, ...)."""


# -- statistics ---------------------------------------------------------------------------------


def signed_rank_null(n: int) -> list[int]:
    """How many of the 2**n sign assignments give each value of W+ (0 .. n(n+1)/2)."""
    counts = [0] * (n * (n + 1) // 2 + 1)
    counts[0] = 1
    top = 0
    for rank in range(1, n + 1):
        top += rank
        for w in range(top, rank - 1, -1):
            counts[w] += counts[w - rank]
    return counts


def signed_rank_critical(n: int, alpha: float) -> int | None:
    """The largest t with P(W+ <= t) <= alpha/2 under the null; None if even t = 0 is above."""
    counts = signed_rank_null(n)
    total = 2**n
    cumulative = 0
    best = None
    for t, c in enumerate(counts):
        cumulative += c
        if cumulative / total <= alpha / 2:
            best = t
        else:
            break
    return best


def wilcoxon_interval(values: list[float], alpha: float) -> tuple[float, float] | None:
    """Confidence interval (1 - alpha) for the pseudo-median of ``values`` from the exact
    signed-rank distribution; None when there are too few values to reach that confidence."""
    n = len(values)
    if n == 0:
        return None
    t = signed_rank_critical(n, alpha)
    if t is None:
        return None
    walsh = sorted((values[i] + values[j]) / 2 for i in range(n) for j in range(i, n))
    return walsh[t], walsh[len(walsh) - 1 - t]


def min_blocks(alpha: float) -> int:
    """The fewest pairs for which the signed-rank interval exists at this alpha."""
    n = 1
    while 2 / 2**n > alpha:
        n += 1
    return n


@dataclass
class Decision:
    metric: str
    threshold: float  # fraction, e.g. 0.05
    n: int
    base: float  # median over blocks, seconds
    head: float
    ratio: float  # exp(median of paired log ratios)
    low: float | None
    high: float | None
    verdict: str  # "pass" | "fail" | "warn"


def decide(
    base: list[float], head: list[float], threshold: float, alpha: float, metric: str = "cpu"
) -> Decision:
    """The verdict on paired per-block measurements (seconds; lower is better)."""
    pairs = [(b, h) for b, h in zip(base, head, strict=True) if b > 0 and h > 0]
    logs = [math.log(h / b) for b, h in pairs]
    ratio = math.exp(statistics.median(logs)) if logs else float("nan")
    interval = wilcoxon_interval(logs, alpha)
    low = high = None
    verdict = "warn"
    if interval is not None:
        low, high = math.exp(interval[0]), math.exp(interval[1])
        if ratio > 1 + threshold and low > 1:
            verdict = "fail"
        elif high <= 1 + threshold:
            verdict = "pass"
    return Decision(
        metric=metric,
        threshold=threshold,
        n=len(pairs),
        base=statistics.median([b for b, _ in pairs]) if pairs else float("nan"),
        head=statistics.median([h for _, h in pairs]) if pairs else float("nan"),
        ratio=ratio,
        low=low,
        high=high,
        verdict=verdict,
    )


def combine(verdicts: list[str]) -> str:
    if "fail" in verdicts:
        return "fail"
    if "warn" in verdicts:
        return "warn"
    return "pass"


# -- one side, one block ------------------------------------------------------------------------


@dataclass
class GateConfig:
    base: str
    threshold: float = 0.05  # CPU; wall uses twice this
    blocks: int = 10
    max_blocks: int = 16
    db_url: str | None = None
    records: int = 60
    rounds: int = 3
    profile: str = "realistic"
    max_wait: float = 0.25  # discard a round whose run-queue wait exceeds this share of wall
    inject_head: float = 0.0  # extra CPU work on the head side, to validate the gate
    targets: tuple[str, ...] = ("tests/perf",)
    repo: Path = field(default_factory=Path.cwd)
    confirm: bool = True
    timeout: float = 900.0


@dataclass
class BenchRun:
    """One benchmark on one side in one block."""

    rounds: list[dict[str, float]]
    counters: dict[str, int]
    counters_stable: bool

    def valid(self, max_wait: float) -> list[dict[str, float]]:
        return [r for r in self.rounds if r["wall"] > 0 and r["wait"] <= max_wait * r["wall"]]


def _side_command(cfg: GateConfig, out: Path, selection: list[str] | None) -> list[str]:
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
        "-q", "--no-header", "-m", "gate", "--benchmark-only", f"--benchmark-json={out}",
        "--perf-records", str(cfg.records), "--perf-rounds", str(cfg.rounds),
        "--perf-profile", cfg.profile,
    ]  # fmt: skip
    if cfg.db_url:
        cmd += ["--db-url", cfg.db_url]
    cmd += selection if selection else list(cfg.targets)
    return cmd


def run_side(
    cfg: GateConfig, side: str, directory: Path, selection: list[str] | None = None
) -> dict[str, BenchRun]:
    """Run the gate subset once in ``directory`` (its own ``src`` first on the path)."""
    env = dict(os.environ)
    src = directory / "src"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(src) if src.is_dir() else "", env.get("PYTHONPATH", "")) if p
    )
    env.pop("XMLMIGRATE_PERF_INJECT", None)
    if side == "head" and cfg.inject_head:
        env["XMLMIGRATE_PERF_INJECT"] = str(cfg.inject_head)
    with tempfile.TemporaryDirectory(prefix="xmlmigrate-gate-") as tmp:
        out = Path(tmp) / "bench.json"
        try:
            proc = subprocess.run(
                _side_command(cfg, out, selection),
                cwd=directory,
                env=env,
                capture_output=True,
                text=True,
                timeout=cfg.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise GateError(f"{side}: the gate subset ran over {cfg.timeout:.0f} s") from exc
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise GateError(f"{side}: the gate subset failed (exit {proc.returncode}):\n{tail}")
        data = json.loads(out.read_text(encoding="utf-8"))
    runs: dict[str, BenchRun] = {}
    for bench in data.get("benchmarks", []):
        gate = (bench.get("extra_info") or {}).get("gate")
        name = str(bench.get("fullname") or bench["name"])
        if not gate or not gate.get("rounds"):
            raise GateError(
                f"{side}: benchmark {name} recorded no gate samples (it must time its rounds "
                "with xmlmigrate.bench.probe.measured; is the base older than the gate?)"
            )
        runs[name] = BenchRun(
            rounds=list(gate["rounds"]),
            counters={k: int(v) for k, v in (gate.get("counters") or {}).items()},
            counters_stable=bool(gate.get("counters_stable", True)),
        )
    if not runs:
        raise GateError(f"{side}: no benchmark is marked 'gate' under {', '.join(cfg.targets)}")
    return runs


# -- the gate -----------------------------------------------------------------------------------


@dataclass
class BenchmarkVerdict:
    name: str
    decisions: list[Decision]
    verdict: str
    confirmed: list[Decision] | None = None
    counters_base: dict[str, int] = field(default_factory=dict)
    counters_head: dict[str, int] = field(default_factory=dict)
    counter_changes: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    discarded_rounds: int = 0
    blocks: list[dict[str, list[dict[str, float]]]] = field(default_factory=list)  # raw rounds


@dataclass
class GateResult:
    base_ref: str
    base_commit: str
    head_commit: str
    threshold: float
    alpha: float
    blocks: int
    verdict: str
    benchmarks: list[BenchmarkVerdict]
    seconds: float
    inject_head: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"gate": asdict(self)}


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise GateError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


@contextlib.contextmanager
def base_worktree(repo: Path, ref: str) -> Iterator[tuple[Path, str]]:
    """``ref`` checked out (detached) in a temporary worktree; removed afterwards."""
    commit = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    tmp = Path(tempfile.mkdtemp(prefix="xmlmigrate-gate-base-"))
    path = tmp / "base"
    _git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path, commit
    finally:
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],
            capture_output=True,
            check=False,
        )
        _git(repo, "worktree", "prune")
        with contextlib.suppress(OSError):
            tmp.rmdir()


Progress = Callable[[str], None]


class _Collector:
    """Per benchmark, per side: the block medians of each metric, in block order."""

    def __init__(self, cfg: GateConfig) -> None:
        self.cfg = cfg
        self.values: dict[str, dict[str, dict[str, list[float]]]] = {}
        self.counters: dict[str, dict[str, dict[str, int]]] = {}
        self.unstable: set[str] = set()
        self.discarded: dict[str, int] = {}
        self.raw: dict[str, list[dict[str, list[dict[str, float]]]]] = {}

    def add_block(self, block: dict[str, dict[str, BenchRun]]) -> bool:
        """Add one block (side → runs); False if some benchmark has no valid round on a side
        (the block is then not used and must be run again)."""
        names = set(block["base"]) & set(block["head"])
        medians: dict[str, dict[str, dict[str, float]]] = {}
        complete = True
        for name in names:
            for side in ("base", "head"):
                run = block[side][name]
                valid = run.valid(self.cfg.max_wait)
                self.discarded[name] = self.discarded.get(name, 0) + len(run.rounds) - len(valid)
                if not valid:
                    complete = False
                    continue
                medians.setdefault(name, {})[side] = {
                    m: statistics.median(r[m] for r in valid) for m in METRICS
                }
                self.counters.setdefault(name, {}).setdefault(side, run.counters)
                if not run.counters_stable:
                    self.unstable.add(f"{name} ({side})")
        if not complete:
            return False
        for name in names:
            self.raw.setdefault(name, []).append(
                {side: block[side][name].rounds for side in ("base", "head")}
            )
        for name, sides in medians.items():
            per = self.values.setdefault(name, {m: {"base": [], "head": []} for m in METRICS})
            for side, metrics in sides.items():
                for m, v in metrics.items():
                    per[m][side].append(v)
        return True

    def blocks(self) -> int:
        return min((len(v["cpu"]["base"]) for v in self.values.values()), default=0)

    def decide(self, name: str, alpha: float) -> list[Decision]:
        per = self.values[name]
        return [
            decide(
                per[m]["base"],
                per[m]["head"],
                self.cfg.threshold * (1 if m == "cpu" else 2),
                alpha,
                metric=m,
            )
            for m in METRICS
        ]


def _run_blocks(
    cfg: GateConfig,
    sides: dict[str, Path],
    collector: _Collector,
    count: int,
    start: int,
    selection: list[str] | None,
    progress: Progress,
) -> None:
    done = 0
    retries = 0
    block = start
    while done < count:
        order = ("base", "head") if block % 2 == 0 else ("head", "base")
        runs = {side: run_side(cfg, side, sides[side], selection) for side in order}
        block += 1
        if collector.add_block(runs):
            done += 1
            progress(f"block {collector.blocks()} ({' '.join(order)}) measured")
        else:
            retries += 1
            progress("block disturbed (waiting for a CPU dominated every round): run again")
            if retries > max(3, count):
                raise GateError(
                    "the machine is too busy to measure: every round of a side kept waiting "
                    f"for a CPU more than {cfg.max_wait:.0%} of its wall time"
                )


def run_gate(cfg: GateConfig, progress: Progress | None = None) -> GateResult:
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    repo = Path(_git(cfg.repo, "rev-parse", "--show-toplevel"))
    head_commit = _git(repo, "rev-parse", "HEAD")
    if _git(repo, "status", "--porcelain", "--untracked-files=no"):
        head_commit += " (with uncommitted changes)"
    with base_worktree(repo, cfg.base) as (base_dir, base_commit):
        sides = {"base": base_dir, "head": repo}
        collector = _Collector(cfg)
        _run_blocks(cfg, sides, collector, cfg.blocks, 0, None, say)
        names = sorted(collector.values)
        alpha = FAMILY_ALPHA / max(len(names), 1)
        notes = []
        if cfg.blocks < min_blocks(alpha):
            notes.append(
                f"{cfg.blocks} blocks cannot reach {1 - alpha:.2%} confidence; "
                f"at least {min_blocks(alpha)} are needed"
            )
        decisions = {n: collector.decide(n, alpha) for n in names}
        while (
            any(combine([d.verdict for d in ds]) == "warn" for ds in decisions.values())
            and collector.blocks() < cfg.max_blocks
        ):
            say("inconclusive: adding a block")
            _run_blocks(cfg, sides, collector, 1, collector.blocks(), None, say)
            decisions = {n: collector.decide(n, alpha) for n in names}
        verdicts: list[BenchmarkVerdict] = []
        failing = [n for n, ds in decisions.items() if combine([d.verdict for d in ds]) == "fail"]
        confirmed: dict[str, list[Decision]] = {}
        if failing and cfg.confirm:
            say(f"measuring again: {', '.join(failing)}")
            again = _Collector(cfg)
            _run_blocks(cfg, sides, again, collector.blocks(), 0, failing, say)
            confirmed = {n: again.decide(n, alpha) for n in failing if n in again.values}
        for name in names:
            first = combine([d.verdict for d in decisions[name]])
            verdict = first
            if name in confirmed and combine([d.verdict for d in confirmed[name]]) != "fail":
                verdict = "warn"  # failed once, not twice: not trusted as a regression
            counters = collector.counters.get(name, {})
            base_c, head_c = counters.get("base", {}), counters.get("head", {})
            changes = {
                k: (base_c.get(k), head_c.get(k))
                for k in sorted(set(base_c) | set(head_c))
                if base_c.get(k) != head_c.get(k)
            }
            verdicts.append(
                BenchmarkVerdict(
                    name=name,
                    decisions=decisions[name],
                    verdict=verdict,
                    confirmed=confirmed.get(name),
                    counters_base=base_c,
                    counters_head=head_c,
                    counter_changes=changes,
                    discarded_rounds=collector.discarded.get(name, 0),
                    blocks=collector.raw.get(name, []),
                )
            )
        for item in sorted(collector.unstable):
            notes.append(f"counters changed between rounds of one process: {item}")
    return GateResult(
        base_ref=cfg.base,
        base_commit=base_commit,
        head_commit=head_commit,
        threshold=cfg.threshold,
        alpha=alpha,
        blocks=collector.blocks(),
        verdict=combine([v.verdict for v in verdicts]),
        benchmarks=verdicts,
        seconds=time.perf_counter() - started,
        inject_head=cfg.inject_head,
        notes=notes,
    )

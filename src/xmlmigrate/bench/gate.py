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

This module runs the blocks (both sides' processes, taking turns round by round) and decides.
What it rests on lives apart: the statistics in ``bench.stats``, the options and their
defaults in ``bench.gate_options``, the worktree and the sides' databases in ``bench.sides``,
the probes in ``bench.probe`` and the verdict table in ``bench.render``.
"""

from __future__ import annotations

import json
import math
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xmlmigrate.bench import gate_options as options
from xmlmigrate.bench.probe import ALLOW_RESET_ENV, BATON_ENV, INJECT_ENV
from xmlmigrate.bench.sides import base_worktree, ensure_database, head_of, side_url
from xmlmigrate.bench.stats import Ratio, paired_ratio, signed_rank_min_n
from xmlmigrate.errors import GateError  # the gate could not measure: one line, exit 2

FAMILY_ALPHA = 0.01
MAX_WAIT = options.MAX_WAIT.value  # a round waiting longer for a CPU (share of wall) is left out
METRICS = ("cpu", "wall")


# -- the verdict on one benchmark and metric -----------------------------------------------------


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


def judge(estimate: Ratio, threshold: float) -> str:
    """FAIL when the ratio exceeds ``1 + threshold`` and its interval lies above 1; PASS when
    the interval's upper end is within ``1 + threshold``; otherwise (or without an interval)
    WARN: inconclusive."""
    if estimate.low is None or estimate.high is None:
        return "warn"
    if estimate.ratio > 1 + threshold and estimate.low > 1:
        return "fail"
    if estimate.high <= 1 + threshold:
        return "pass"
    return "warn"


def decide_logs(
    logs: list[float],
    threshold: float,
    alpha: float,
    metric: str = "cpu",
    base: float = float("nan"),
    head: float = float("nan"),
) -> Decision:
    """The verdict on per-block log ratios head/base (of seconds: lower is better)."""
    estimate = paired_ratio(logs, alpha)
    return Decision(
        metric,
        threshold,
        len(logs),
        base,
        head,
        estimate.ratio,
        estimate.low,
        estimate.high,
        judge(estimate, threshold),
    )


def combine(verdicts: list[str]) -> str:
    if "fail" in verdicts:
        return "fail"
    if "warn" in verdicts:
        return "warn"
    return "pass"


# -- one block: both sides side by side, rounds taking turns -----------------------------------


@dataclass
class GateConfig:
    base: str
    # the defaults of what ``xmlmigrate perf gate`` and the plugin's options set: theirs
    threshold: float = options.THRESHOLD.value  # CPU; wall uses twice this
    blocks: int = options.BLOCKS.value
    max_blocks: int = options.MAX_BLOCKS.value
    db_url: str | None = None
    records: int = options.RECORDS.value
    rounds: int = options.ROUNDS.value
    profile: str = "realistic"
    max_wait: float = MAX_WAIT  # discard a round whose run-queue wait exceeds this share of wall
    # discard a block whose sides' yardsticks differ by more
    max_speed_gap: float = options.MAX_SPEED_GAP.value
    inject_head: float = options.INJECT_HEAD.value  # extra CPU work on the head side
    targets: tuple[str, ...] = ("tests/perf",)
    # pytest node ids to measure instead of the gate subset of ``targets`` (marked or not):
    # what a session selected (-k, node ids), re-measured A/B
    selection: tuple[str, ...] = ()
    repo: Path = field(default_factory=Path.cwd)
    confirm: bool = options.NO_CONFIRM.value
    timeout: float = 900.0


@dataclass
class BenchRun:
    """One benchmark on one side in one block: its rounds in order, its counters."""

    rounds: list[dict[str, float]]
    counters: dict[str, int]
    counters_stable: bool


def subset_command(
    out: Path,
    records: int,
    rounds: int,
    paths: Sequence[str],
    db_url: str | None = None,
    profile: str | None = None,
    marked_only: bool = True,
) -> list[str]:
    """pytest in a fresh process on the benchmarks of ``paths`` (those marked ``gate`` unless
    ``marked_only`` is false), their results saved as JSON to ``out``."""
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
        "-q", "--no-header", *(["-m", "gate"] if marked_only else []), "--benchmark-only",
        f"--benchmark-json={out}", "--perf-records", str(records), "--perf-rounds", str(rounds),
    ]  # fmt: skip
    if profile:
        cmd += ["--perf-profile", profile]
    if db_url:
        cmd += ["--db-url", db_url]
    return cmd + list(paths)


def subset_env(inject: float) -> dict[str, str]:
    """This process's environment for a benchmark process: slowed by ``inject`` (a share of
    each round's CPU time) or not at all, free to reset the tables of its target (the gate's
    and the calibration's targets are their own)."""
    env = dict(os.environ)
    env.pop(INJECT_ENV, None)
    if inject:
        env[INJECT_ENV] = str(inject)
    env[ALLOW_RESET_ENV] = "1"
    return env


def _side_command(cfg: GateConfig, side: str, out: Path, selection: list[str] | None) -> list[str]:
    # the gate subset of the targets; node ids selected are measured whether marked or not
    paths = selection if selection else list(cfg.selection or cfg.targets)
    url = side_url(cfg.db_url, side)
    return subset_command(
        out, cfg.records, cfg.rounds, paths, url, cfg.profile, marked_only=not cfg.selection
    )


def _side_env(cfg: GateConfig, side: str, directory: Path, baton: str) -> dict[str, str]:
    env = subset_env(cfg.inject_head if side == "head" else 0.0)
    src = directory / "src"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(src) if src.is_dir() else "", env.get("PYTHONPATH", "")) if p
    )
    env[BATON_ENV] = baton
    return env


@dataclass
class _SideProcess:
    side: str
    proc: subprocess.Popen[bytes]
    to_side: int
    from_side: int
    out: Path
    log: Path


def _read_byte(fd: int, deadline: float, side: str) -> bytes:
    remaining = deadline - time.monotonic()
    ready, _, _ = select.select([fd], [], [], max(remaining, 0))
    if not ready:
        raise GateError(f"{side}: no progress within the time limit")
    return os.read(fd, 1)


def _take_turns(sides: dict[str, _SideProcess], first: str, timeout: float) -> None:
    """Grant rounds in the order first, other, other, first, ... until both sides finish."""
    other = "head" if first == "base" else "base"
    pattern = (first, other, other, first)
    active = set(sides)
    deadline = time.monotonic() + timeout
    step = 0
    while active:
        name = pattern[step % 4]
        if name not in active:
            name = next(iter(active))
        side = sides[name]
        message = _read_byte(side.from_side, deadline, name)
        if message == b"":
            active.discard(name)  # this side ran all its rounds (or died: its exit code says)
            continue
        if message != b"r":
            raise GateError(f"{name}: unexpected message {message!r}")
        os.write(side.to_side, b"g")
        if _read_byte(side.from_side, deadline, name) != b"d":
            raise GateError(f"{name}: the process ended in the middle of a round")
        step += 1


def run_block(
    cfg: GateConfig, dirs: dict[str, Path], first: str, selection: list[str] | None = None
) -> dict[str, dict[str, BenchRun]]:
    """Both sides started together, each in its own process; their rounds take turns."""
    with tempfile.TemporaryDirectory(prefix="xmlmigrate-gate-") as tmp:
        sides: dict[str, _SideProcess] = {}
        try:
            for name in ("base", "head"):
                to_read, to_write = os.pipe()
                from_read, from_write = os.pipe()
                out = Path(tmp) / f"{name}.json"
                log = Path(tmp) / f"{name}.log"
                with log.open("wb") as handle:
                    proc = subprocess.Popen(
                        _side_command(cfg, name, out, selection),
                        cwd=dirs[name],
                        env=_side_env(cfg, name, dirs[name], f"{to_read},{from_write}"),
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                        pass_fds=(to_read, from_write),
                    )
                os.close(to_read)
                os.close(from_write)
                sides[name] = _SideProcess(name, proc, to_write, from_read, out, log)
            _take_turns(sides, first, cfg.timeout)
            for side in sides.values():
                side.proc.wait(timeout=cfg.timeout)
        finally:
            for side in sides.values():
                if side.proc.poll() is None:
                    side.proc.kill()
                    side.proc.wait()
                os.close(side.to_side)
                os.close(side.from_side)
        return {name: _results(side) for name, side in sides.items()}


def _results(side: _SideProcess) -> dict[str, BenchRun]:
    if side.proc.returncode != 0 or not side.out.exists():
        text = side.log.read_text(errors="replace").strip().splitlines()
        tail = "\n".join(text[-25:])
        raise GateError(
            f"{side.side}: the gate subset failed (exit {side.proc.returncode}):\n{tail}"
        )
    data = json.loads(side.out.read_text(encoding="utf-8"))
    runs: dict[str, BenchRun] = {}
    for bench in data.get("benchmarks", []):
        gate = (bench.get("extra_info") or {}).get("gate")
        name = str(bench.get("fullname") or bench["name"])
        if not gate or not gate.get("rounds"):
            raise GateError(
                f"{side.side}: benchmark {name} recorded no gate samples (it must time its rounds "
                "with xmlmigrate.bench.probe.measured; is the base older than the gate?)"
            )
        runs[name] = BenchRun(
            rounds=list(gate["rounds"]),
            counters={k: int(v) for k, v in (gate.get("counters") or {}).items()},
            counters_stable=bool(gate.get("counters_stable", True)),
        )
    if not runs:
        raise GateError(f"{side.side}: no benchmark is marked 'gate'")
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
    set_aside: int = 0  # blocks measured but not used (unequal machine speed, CPU waits)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"gate": asdict(self)}


Progress = Callable[[str], None]


class _Collector:
    """Per benchmark and metric, one paired log ratio per block: the median over the block's
    round pairs (round i of base against round i of head, taken in turn)."""

    def __init__(self, cfg: GateConfig) -> None:
        self.cfg = cfg
        self.logs: dict[str, dict[str, list[float]]] = {}
        self.base: dict[str, dict[str, list[float]]] = {}
        self.head: dict[str, dict[str, list[float]]] = {}
        self.counters: dict[str, dict[str, dict[str, int]]] = {}
        self.unstable: set[str] = set()
        self.discarded: dict[str, int] = {}
        self.raw: dict[str, list[dict[str, list[dict[str, float]]]]] = {}
        # blocks set aside (and run again): a side ran on a slower machine, or a benchmark
        # had no round pair free of CPU waits — both reasons, one count
        self.set_aside = 0

    def _valid(self, r: dict[str, float]) -> bool:
        return r["wall"] > 0 and r["cpu"] > 0 and r["wait"] <= self.cfg.max_wait * r["wall"]

    def add_block(self, block: dict[str, dict[str, BenchRun]]) -> bool:
        """Add one block (side → runs); False if it must be run again: one side's process ran
        slower than the other's by more than ``max_speed_gap`` on the same fixed loop (the
        yardstick; on shared virtual machines a process can stay 1.5x slower for its whole
        life, invisibly to it), or a benchmark has no round pair in which neither round
        waited too long for a CPU."""
        names = sorted(set(block["base"]) & set(block["head"]))
        speed = {
            side: statistics.median(r["yardstick"] for run in runs.values() for r in run.rounds)
            for side, runs in block.items()
        }
        gap = max(speed.values()) / min(speed.values()) - 1
        if gap > self.cfg.max_speed_gap:
            self.set_aside += 1
            return False
        pairs: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {}
        for name in names:
            both = list(zip(block["base"][name].rounds, block["head"][name].rounds, strict=False))
            pairs[name] = [(b, h) for b, h in both if self._valid(b) and self._valid(h)]
            self.discarded[name] = self.discarded.get(name, 0) + len(both) - len(pairs[name])
        if not all(pairs.values()):
            self.set_aside += 1
            return False
        for name in names:
            self.raw.setdefault(name, []).append(
                {side: block[side][name].rounds for side in ("base", "head")}
            )
            for side in ("base", "head"):
                run = block[side][name]
                self.counters.setdefault(name, {}).setdefault(side, run.counters)
                if not run.counters_stable:
                    self.unstable.add(f"{name} ({side})")
            for m in METRICS:
                self.logs.setdefault(name, {}).setdefault(m, []).append(
                    statistics.median(math.log(h[m] / b[m]) for b, h in pairs[name])
                )
                self.base.setdefault(name, {}).setdefault(m, []).append(
                    statistics.median(b[m] for b, _ in pairs[name])
                )
                self.head.setdefault(name, {}).setdefault(m, []).append(
                    statistics.median(h[m] for _, h in pairs[name])
                )
        return True

    def names(self) -> list[str]:
        return sorted(self.logs)

    def blocks(self) -> int:
        return min((len(v["cpu"]) for v in self.logs.values()), default=0)

    def decide(self, name: str, alpha: float) -> list[Decision]:
        return [
            decide_logs(
                self.logs[name][m],
                self.cfg.threshold * (1 if m == "cpu" else 2),
                alpha,
                m,
                statistics.median(self.base[name][m]),
                statistics.median(self.head[name][m]),
            )
            for m in METRICS
        ]


def _run_blocks(
    cfg: GateConfig,
    dirs: dict[str, Path],
    collector: _Collector,
    count: int,
    start: int,
    selection: list[str] | None,
    progress: Progress,
) -> None:
    done = retries = 0
    block = start
    while done < count:
        first = "base" if block % 2 == 0 else "head"
        runs = run_block(cfg, dirs, first, selection)
        block += 1
        if collector.add_block(runs):
            done += 1
            progress(f"block {collector.blocks()} measured ({first} first)")
        else:
            retries += 1
            progress("block set aside (a side ran on a slower machine, or waited for a CPU)")
            if retries > max(6, 2 * count):
                raise GateError(
                    "the machine is too unsteady to measure: blocks kept being set aside "
                    f"(sides' speeds more than {cfg.max_speed_gap:.0%} apart, or rounds waiting "
                    f"for a CPU more than {cfg.max_wait:.0%} of their wall time)"
                )


def _measure(
    cfg: GateConfig,
    sides: dict[str, Path],
    selection: list[str] | None,
    say: Progress,
    alpha: float | None = None,
) -> tuple[_Collector, dict[str, list[Decision]], float]:
    """``cfg.blocks`` blocks, then one more at a time while a verdict is inconclusive, up to
    ``cfg.max_blocks``. Alpha is split across the benchmarks (unless given)."""
    collector = _Collector(cfg)
    _run_blocks(cfg, sides, collector, cfg.blocks, 0, selection, say)
    if alpha is None:
        alpha = FAMILY_ALPHA / max(len(collector.names()), 1)

    def decide_all() -> dict[str, list[Decision]]:
        return {n: collector.decide(n, alpha) for n in collector.names()}

    decisions = decide_all()
    while (
        any(combine([d.verdict for d in ds]) == "warn" for ds in decisions.values())
        and collector.blocks() < cfg.max_blocks
    ):
        say("inconclusive: adding a block")
        _run_blocks(cfg, sides, collector, 1, collector.blocks(), selection, say)
        decisions = decide_all()
    return collector, decisions, alpha


def run_gate(cfg: GateConfig, progress: Progress | None = None) -> GateResult:
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    repo, head_commit = head_of(cfg.repo)
    if cfg.db_url:
        for side in ("base", "head"):
            ensure_database(cfg.db_url, side_url(cfg.db_url, side) or cfg.db_url)
    with base_worktree(repo, cfg.base) as (base_dir, base_commit):
        sides = {"base": base_dir, "head": repo}
        collector, decisions, alpha = _measure(cfg, sides, None, say)
        names = collector.names()
        notes = []
        if collector.blocks() < signed_rank_min_n(alpha):
            notes.append(
                f"{collector.blocks()} blocks cannot reach {1 - alpha:.2%} confidence; "
                f"at least {signed_rank_min_n(alpha)} are needed"
            )
        verdicts: list[BenchmarkVerdict] = []
        failing = [n for n, ds in decisions.items() if combine([d.verdict for d in ds]) == "fail"]
        confirmed: dict[str, list[Decision]] = {}
        if failing and cfg.confirm:
            say(f"measuring again: {', '.join(failing)}")
            _, again, _ = _measure(cfg, sides, failing, say, alpha)
            confirmed = {n: again[n] for n in failing if n in again}
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
        set_aside=collector.set_aside,
        notes=notes,
    )

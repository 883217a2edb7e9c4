"""Per-round measurements for the CI gate: wall time, CPU time and time spent waiting for a CPU.

CPU time counts every process that does the work of a round:

* this process (all its threads: ``CLOCK_PROCESS_CPUTIME_ID``);
* its child processes that ended during the round (transform workers are joined before a run
  returns, so ``RUSAGE_CHILDREN`` holds them);
* the PostgreSQL backends serving its connections: every DBAPI connection made through a
  SQLAlchemy pool is noted with its backend pid (psycopg's ``info.backend_pid``, which is
  ``pg_backend_pid()``), and that backend's ``/proc/<pid>/schedstat`` is read at the start and
  end of the round, or just before the connection is closed.

Waiting for a CPU (run-queue delay, the second field of ``schedstat``) is summed over this
process's threads and the backends. A round in which it is a large share of the wall time was
disturbed by other load; the gate discards such rounds.

``measured`` wraps the function a benchmark times so that each round leaves a sample in
``benchmark.extra_info["gate"]``; deterministic counters of the round's result (rows, SQL
statements, transactions) are stored beside them. ``XMLMIGRATE_PERF_INJECT`` (a fraction, set
by ``perf gate --inject-head`` on one side only) adds that share of the round's own CPU time as
extra work: how the gate is shown to detect a slowdown of a known size.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import Pool

from xmlmigrate.sources import PAGE_READ

INJECT_ENV = "XMLMIGRATE_PERF_INJECT"
BATON_ENV = "XMLMIGRATE_GATE_BATON"

ALLOW_RESET_ENV = "XMLMIGRATE_PERF_ALLOW_RESET"  # the gate's side databases are its own
T = TypeVar("T")


class Baton:
    """Turn-taking with ``perf gate``, which runs base and head side by side: before a round's
    setup this side says it is ready and waits for its turn; after the round it says it is
    done. So the two sides never run at the same time, and their rounds alternate."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read = read_fd
        self._write = write_fd

    @classmethod
    def from_env(cls) -> Baton | None:
        value = os.environ.get(BATON_ENV)
        if not value:
            return None
        read_fd, write_fd = (int(x) for x in value.split(","))
        return cls(read_fd, write_fd)

    def acquire(self) -> None:
        os.write(self._write, b"r")
        if os.read(self._read, 1) != b"g":
            raise RuntimeError("perf gate went away")

    def release(self) -> None:
        os.write(self._write, b"d")


@dataclass(frozen=True, slots=True)
class Sample:
    wall: float  # seconds
    cpu: float  # seconds of CPU: this process, its ended children, its PostgreSQL backends
    wait: float  # seconds runnable but not running (this process's threads, the backends)
    backends: int  # PostgreSQL backends that served the round
    client_cpu: float  # the part of ``cpu`` spent in this process and its children
    yardstick: float  # CPU seconds of a fixed loop, run just before and just after the round


YARDSTICK_LOOPS = 60_000


def yardstick() -> float:
    """CPU seconds this machine takes right now for a fixed piece of pure-Python work.

    Shared virtual machines change speed by tens of per cent from second to second (a busy
    neighbour on the host), invisibly to the guest: no steal time, no run-queue wait. The
    same loop timed next to a round tells how fast the machine was then."""
    started = time.process_time()
    x = 0
    for i in range(YARDSTICK_LOOPS):
        x ^= i * i
    return time.process_time() - started


def read_schedstat(path: str) -> tuple[int, int] | None:
    """(ns on a CPU, ns waiting for one) from a ``schedstat`` file; None if unreadable."""
    try:
        fields = Path(path).read_text().split()
        return int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


def _own_wait_ns() -> int:
    total = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    for tid in tasks:
        stat = read_schedstat(f"/proc/self/task/{tid}/schedstat")
        if stat is not None:
            total += stat[1]
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class BackendTracker:
    """PostgreSQL backend pids of the connections SQLAlchemy pools open in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.live: dict[int, tuple[int, int]] = {}  # pid -> schedstat when first seen
        self.closed_cpu_ns = 0  # CPU of backends whose connection closed since the last reset
        self.closed_wait_ns = 0
        self.seen = 0
        self.statements = 0

    def install(self) -> None:
        event.listen(Pool, "connect", self._on_connect)
        event.listen(Pool, "close", self._on_close)
        event.listen(Pool, "close_detached", self._on_close_detached)
        event.listen(sa.engine.Engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *args: Any) -> None:
        """Count SQL statements other than page reads, which ``source_queries`` counts on
        every backend (through SQLAlchemy on SQLite, through a raw binary cursor on
        PostgreSQL): so ``sql_statements`` means the same thing everywhere."""
        context = args[4] if len(args) > 4 else None
        options = getattr(context, "execution_options", None) or {}
        if not options.get(PAGE_READ):
            self.statements += 1

    @staticmethod
    def _pid(dbapi_connection: Any) -> int | None:
        info = getattr(dbapi_connection, "info", None)
        pid = getattr(info, "backend_pid", None)
        return pid if isinstance(pid, int) and pid > 0 else None

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        pid = self._pid(dbapi_connection)
        if pid is None:
            return
        stat = read_schedstat(f"/proc/{pid}/schedstat")
        if stat is not None:
            with self._lock:
                self.live[pid] = stat
                self.seen += 1

    def _on_close(self, dbapi_connection: Any, _record: Any) -> None:
        self._on_close_detached(dbapi_connection)

    def _on_close_detached(self, dbapi_connection: Any) -> None:
        pid = self._pid(dbapi_connection)
        with self._lock:
            start = self.live.pop(pid, None) if pid is not None else None
        if start is None:
            return
        stat = read_schedstat(f"/proc/{pid}/schedstat")
        if stat is not None:
            with self._lock:
                self.closed_cpu_ns += stat[0] - start[0]
                self.closed_wait_ns += stat[1] - start[1]

    def begin(self) -> None:
        """Start a round: count live backends from now, forget closed ones."""
        with self._lock:
            for pid in list(self.live):
                stat = read_schedstat(f"/proc/{pid}/schedstat")
                if stat is None:
                    del self.live[pid]
                else:
                    self.live[pid] = stat
            self.closed_cpu_ns = self.closed_wait_ns = 0
            self.seen = len(self.live)

    def collect(self) -> tuple[int, int]:
        """(CPU ns, wait ns) of the backends since ``begin``."""
        with self._lock:
            cpu, wait = self.closed_cpu_ns, self.closed_wait_ns
            for pid, start in self.live.items():
                stat = read_schedstat(f"/proc/{pid}/schedstat")
                if stat is not None:
                    cpu += stat[0] - start[0]
                    wait += stat[1] - start[1]
            return cpu, wait


_TRACKER: BackendTracker | None = None


def tracker() -> BackendTracker:
    global _TRACKER
    if _TRACKER is None:
        _TRACKER = BackendTracker()
        _TRACKER.install()
    return _TRACKER


def spin(seconds: float) -> None:
    """Burn CPU in this process for ``seconds`` of CPU time."""
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        for i in range(1000):
            x ^= i


def measure_round(fn: Callable[[], T], inject: float = 0.0) -> tuple[T, Sample]:
    track = tracker()
    before = yardstick()
    track.begin()
    wait0 = _own_wait_ns()
    children0 = _children_cpu()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    result = fn()
    if inject > 0:
        own = time.process_time() - cpu0 + _children_cpu() - children0
        spin(inject * (own + track.collect()[0] / 1e9))
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0 + _children_cpu() - children0
    backend_cpu, backend_wait = track.collect()
    wait = (_own_wait_ns() - wait0 + backend_wait) / 1e9
    after = yardstick()
    sample = Sample(
        wall, cpu + backend_cpu / 1e9, max(wait, 0.0), track.seen, cpu, (before + after) / 2
    )
    return result, sample


def measured(
    benchmark: Any,
    fn: Callable[[], T],
    *,
    rounds: int,
    setup: Callable[[], None] | None = None,
    counters: Callable[[T], dict[str, int]] | None = None,
    warmup: int = 1,
) -> T:
    """``benchmark.pedantic(fn, setup=setup, rounds=rounds)`` that also records, per round, a
    :class:`Sample` and the round's counters in ``benchmark.extra_info["gate"]``."""
    inject = float(os.environ.get(INJECT_ENV) or 0.0)
    baton = Baton.from_env()
    samples: list[dict[str, float]] = []
    counted: list[dict[str, int]] = []
    track = tracker()

    def prepare() -> None:
        if baton is not None:
            baton.acquire()  # the setup (e.g. emptying the target) is part of this side's turn
        if setup is not None:
            setup()

    def run() -> T:
        statements0 = track.statements
        try:
            result, sample = measure_round(fn, inject)
        finally:
            if baton is not None:
                baton.release()
        samples.append(asdict(sample))
        found = dict(counters(result)) if counters is not None else {}
        found["sql_statements"] = track.statements - statements0
        counted.append(found)
        return result

    # warm-up rounds are timed like the others (and take their turn) but not kept — neither
    # here nor in pytest-benchmark's statistics: a process's first round pays for caches,
    # imports and a new database connection
    result: T = benchmark.pedantic(run, setup=prepare, rounds=rounds, warmup_rounds=warmup)
    benchmark.extra_info["gate"] = {
        "rounds": samples[warmup:],
        "warmup": samples[:warmup],
        "counters": counted[-1] if counted else {},
        "counters_stable": all(c == counted[-1] for c in counted[warmup:]),
        "inject": inject,
    }
    return result

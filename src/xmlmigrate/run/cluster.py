"""``xmlmigrate run --cluster``: the migration on a Dask cluster.

The pending part of ``app_xml`` is split into contiguous app-id ranges (partitions) — more of
them than workers, sized from the pending count and the batch size — and each partition is a
Dask task that runs the ordinary engine (:func:`~xmlmigrate.run.pipeline.run_migration`) on
its range, in the Dask worker's process: the same contract, knobs, batches and ledger. Each
committed batch is a Dask event the client's progress bar follows.

The client plans the ranges from counts, never from a list of the pending ids: the smallest
and largest id of each source, then how many pending apps each of about a thousand equal
id ranges holds (one grouped count per source; a range holding a large share is counted again
in finer ranges). It ships the contract it checked — its text and sha256 — with every task; a
task compiles that text and never opens a contract file (which may have changed, or name
another contract on the worker's machine), and each partition's run records the digest.

Exactly once, across the cluster, rests on what a single machine already has:

* a partition's run holds its *lease* in the target database (PostgreSQL advisory lock,
  MariaDB ``GET_LOCK``, SQL Server ``sp_getapplock``): a worker killed with SIGKILL loses it
  with its connection, and a twin that still holds it keeps a retry out;
* a task Dask runs again (its worker died; up to ``distributed.scheduler.allowed-failures``
  times) resumes its range: the apps already logged in ``processing_log`` are skipped, each
  batch commits its rows and its log rows in one transaction;
* a zombie twin — a task Dask gave up on whose process still runs, its lease connection
  gone — cannot write: each batch transaction first locks the run's lease row, which the
  retry's claim has deleted (:func:`~xmlmigrate.db.lease.fence_sql`).

Stopping: SIGINT or SIGTERM to the client sets the run's stop event (a Dask ``Event``); every
task asks it between batches (and whether the client still wants its result), commits its
batch in flight, finishes its run row and returns; tasks not started yet return at once. The
client waits for them, then exits 130 / 143 — a second signal aborts at once. A task that
fails stops the run the same way; an error that would fail again (a contract or source
problem) is not retried, a lost database connection is retried in the task (``TASK_RETRIES``),
and the client reports the failure in one line whose exit status says whether apps were
committed.

SQLite is refused (one writer). ``local:N`` starts a ``LocalCluster`` of N single-threaded
worker processes; ``tcp://HOST:8786`` uses a running scheduler (``dask scheduler`` there,
``dask worker tcp://HOST:8786`` on every machine that reaches both databases).
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import CompiledContract
from xmlmigrate.contract.shipped import ContractTexts
from xmlmigrate.db import make_engine, redact_url
from xmlmigrate.db.schema import Schema, build_schema
from xmlmigrate.errors import (
    EXIT_FAILED,
    EXIT_INFRASTRUCTURE,
    EXIT_USAGE,
    InfrastructureError,
    LeaseBusy,
    LeaseLost,
    UserError,
    XmlMigrateError,
)
from xmlmigrate.model import Outcomes, RunStats
from xmlmigrate.run.errors import PartitionFailed
from xmlmigrate.run.pipeline import StopFlag, prepare_target
from xmlmigrate.sources import pending_condition

log = logging.getLogger(__name__)

PARTS_PER_WORKER = 4  # more partitions than workers: a slow or lost one delays less
LEASE_WAIT_S = 60.0  # a task waits this long for a dead twin's lease to lapse
TASK_RETRIES = 3  # a partition whose database connection failed is run again this often
RETRY_PAUSE_S = 2.0
STOP_WAIT_S = 60.0  # how long a stopping client waits for its tasks' batches in flight
POLL_S = 0.1  # the client's wait for finished tasks, between looks at its stop flag
PROGRESS_TOPIC = "xmlmigrate-progress"  # + the run's own suffix: an event per committed batch
STOP_EVENT = "xmlmigrate-stop"  # + the run's own suffix: set when its tasks are to stop
COUNTS = ("records", "success", "failed", "rejected", "warnings", "rows")
HISTOGRAM_BUCKETS = 1024  # id ranges counted per planning query
REFINE_SHARE = 256  # a range holding more than this share of the pending apps is split
WORKER_LOG_ENV = "XMLMIGRATE_WORKER_LOG_LEVEL"  # a local:N worker's xmlmigrate log level


@dataclass(frozen=True)
class ClusterSpec:
    local_workers: int | None  # local:N
    address: str | None  # tcp://HOST:PORT

    def describe(self) -> str:
        return f"local:{self.local_workers}" if self.local_workers else str(self.address)


def parse_cluster(text: str) -> ClusterSpec:
    """``local:N`` or ``tcp://HOST:PORT`` (also ``tls://``), else a usage error."""
    value = text.strip()
    if value.startswith("local:"):
        count = value.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise UserError(f"--cluster local:N takes a worker count of at least 1, not {text!r}")
        return ClusterSpec(int(count), None)
    if value.startswith(("tcp://", "tls://")) and len(value) > 6:
        return ClusterSpec(None, value)
    raise UserError(f"--cluster takes local:N or tcp://HOST:PORT, not {text!r}")


# -- planning ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """The pending apps of an app-id range: the smallest and largest of their ids, how many."""

    low: int
    high: int
    count: int


@dataclass(frozen=True)
class Plan:
    """The pending apps of a run as ascending, disjoint spans (at most a few thousand, however
    many apps are pending)."""

    pending: int
    spans: tuple[Span, ...]

    def bounds(self, parts: int) -> list[tuple[int, int]]:
        """Contiguous, disjoint, inclusive app-id ranges of about ``pending / parts`` pending
        apps each (the spans, in order, until a range has its share); the first starts at
        the smallest pending id, the last ends at the largest."""
        if not self.spans:
            return []
        parts = max(1, min(parts, self.pending))
        share = self.pending / parts
        bounds: list[tuple[int, int]] = []
        first: int | None = None
        taken = 0
        for span in self.spans:
            first = span.low if first is None else first
            taken += span.count
            if len(bounds) < parts - 1 and taken >= share * (len(bounds) + 1):
                bounds.append((first, span.high))
                first = None
        if first is not None:
            bounds.append((first, self.spans[-1].high))
        return bounds


def partition_count(pending: int, workers: int, batch_size: int) -> int:
    """PARTS_PER_WORKER per worker, but no partition shorter than one batch."""
    return max(1, min(PARTS_PER_WORKER * max(workers, 1), math.ceil(pending / max(batch_size, 1))))


def plan_partitions(engine: sa.Engine, schema: Schema, config: MigrationConfig) -> Plan:
    """The pending apps of the source tables this run takes (the source's own pending
    condition) as spans: the extent of each source's ids (its smallest and largest, an index
    lookup), then the pending apps of HISTOGRAM_BUCKETS equal ranges of it, counted by the
    database; a range holding more than 1/REFINE_SHARE of them (and more than a batch) is
    counted again in finer ranges. The client holds a few thousand numbers, not an id per
    app."""
    tables = schema.sources or (schema.source,)
    sources = [(src, pending_condition(src, schema.log, config, engine)) for src in tables]
    try:
        with engine.connect() as conn:
            extent = _extent(conn, [src for src, _ in sources], config)
            if extent is None:
                return Plan(0, ())
            spans = _histogram(conn, sources, *extent)
            pending = sum(s.count for s in spans)
            heavy = max(config.batch_size, pending // REFINE_SHARE)
            while any(s.count > heavy and s.high > s.low for s in spans):
                finer: list[Span] = []
                for s in spans:
                    split = s.count > heavy and s.high > s.low
                    finer += _histogram(conn, sources, s.low, s.high) if split else [s]
                spans = finer
    except sa.exc.OperationalError as exc:
        raise InfrastructureError(f"cannot plan the partitions: {exc.orig}") from None
    return Plan(pending, tuple(spans))


def _extent(
    conn: sa.Connection, sources: Sequence[sa.Table], config: MigrationConfig
) -> tuple[int, int] | None:
    """The smallest and largest app id of the sources within the run's range; None if none."""
    lows, highs = [], []
    for src in sources:
        key = src.c.app_id
        query = sa.select(sa.func.min(key), sa.func.max(key))
        if config.app_id_start is not None:
            query = query.where(key >= config.app_id_start)
        if config.app_id_end is not None:
            query = query.where(key <= config.app_id_end)
        low, high = conn.execute(query).one()
        if low is not None:
            lows.append(int(low))
            highs.append(int(high))
    return (min(lows), max(highs)) if lows else None


def _histogram(
    conn: sa.Connection,
    sources: Sequence[tuple[sa.Table, sa.ColumnElement[bool]]],
    low: int,
    high: int,
) -> list[Span]:
    """The pending apps of ``low..high`` in up to HISTOGRAM_BUCKETS equal id ranges, as spans
    (the empty ones left out); one grouped count per source."""
    width = max(1, -(-(high - low + 1) // HISTOGRAM_BUCKETS))
    found: dict[int, tuple[int, int, int]] = {}
    for src, pending in sources:
        key = src.c.app_id
        # integers written into the statement: the GROUP BY must repeat the SELECT's
        # expression exactly, which two bound parameters would not
        offset = sa.cast(key, sa.BigInteger) - sa.literal_column(str(int(low)), sa.BigInteger)
        bucket = offset // sa.literal_column(str(int(width)), sa.BigInteger)
        query = (
            sa.select(bucket, sa.func.count(), sa.func.min(key), sa.func.max(key))
            .where(pending, key >= low, key <= high)
            .group_by(bucket)
        )
        for b, n, lo, hi in conn.execute(query):
            known = found.get(int(b))
            n, lo, hi = int(n), int(lo), int(hi)
            if known is not None:
                n, lo, hi = n + known[0], min(lo, known[1]), max(hi, known[2])
            found[int(b)] = (n, lo, hi)
    return [Span(lo, hi, n) for _, (n, lo, hi) in sorted(found.items())]


# -- the task -------------------------------------------------------------------------------


def _counts(stats: RunStats) -> dict[str, int]:
    """A partition run's COUNTS."""
    rows = sum(stats.rows_per_table.values())
    return {k: rows if k == "rows" else int(getattr(stats, k)) for k in COUNTS}


class _TaskStop:
    """Whether a task is to stop, asked between its batches: its run's stop event is set (the
    client was stopped, or another partition failed), its client no longer wants its result
    (the client is gone: the scheduler released the task), or the scheduler cannot be asked.
    Once true, stays true."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self._stopped = False
        self._event: Any = None

    def __call__(self) -> bool:
        if not self._stopped:
            self._stopped = self._asked()
        return self._stopped

    def _asked(self) -> bool:
        worker = _current_worker()
        if worker is None:  # not in a Dask task (tests call the task directly)
            return False
        if self._released(worker):
            return True
        try:
            return bool(self._stop_event().is_set())
        except Exception:  # the scheduler is out of reach: nobody would take the result
            log.debug("cannot ask the scheduler whether to stop", exc_info=True)
            return True

    @staticmethod
    def _released(worker: Any) -> bool:
        """Whether the scheduler let go of this task (no client wants its result: the client
        is gone, even SIGKILLed): the worker then marks the running task cancelled."""
        try:
            state = worker.state.tasks.get(worker.get_current_task())
        except (AttributeError, KeyError):  # not the task's thread; another Dask's state
            return False
        return state is not None and state.state == "cancelled"

    def _stop_event(self) -> Any:
        if self._event is None:
            from distributed import Event

            self._event = Event(f"{STOP_EVENT}-{self.tag}")
        return self._event

    def request(self) -> None:
        """Stop this task, and every other task of the run."""
        self._stopped = True
        if _current_worker() is not None:
            with suppress(Exception):
                self._stop_event().set()


def migrate_partition(
    config: dict[str, Any], contract: ContractTexts, start: int, end: int, tag: str
) -> dict[str, Any]:
    """One Dask task: the engine on ``start..end`` with ``contract`` (compiled here from its
    text), in this worker's process. Every committed batch is reported to the client as a
    Dask event. Never raises: a failure is returned (``error``, ``exit_code``, ``attempts``)
    after asking every other task of the run to stop; Dask retries nothing but a task whose
    worker died."""
    stop = _TaskStop(tag)
    result: dict[str, Any] = {"start": start, "end": end, "run": None, **dict.fromkeys(COUNTS, 0)}
    result["elapsed"] = 0.0
    if stop():  # the run was stopped before this partition began
        return {**result, "skipped": True}
    worker = _current_worker()
    topic = f"{PROGRESS_TOPIC}-{tag}"
    last: list[RunStats] = []

    def report(stats: RunStats, _done: int) -> None:
        last[:] = [stats]
        if worker is not None:
            worker.log_event(
                topic, {"part": f"{start}-{end}", "run": stats.run_id, **_counts(stats)}
            )

    attempts = [1]
    try:
        part = MigrationConfig(**{**config, "app_id_start": start, "app_id_end": end, "workers": 0})
        stats = _run_partition(part, contract.compile(), report, stop, attempts)
    except Exception as exc:  # returned, not raised: no retry, no traceback on the worker
        log.debug("partition %d-%d failed", start, end, exc_info=True)
        stop.request()
        if last:
            result |= {"run": last[0].run_id, **_counts(last[0])}
        message, code = _task_error(exc)
        return {**result, "error": message, "exit_code": code, "attempts": attempts[0]}
    if stats is None:  # stopped while waiting to begin
        return {**result, "skipped": True}
    return {
        **result,
        "run": stats.run_id,
        **_counts(stats),
        "elapsed": stats.elapsed,
        "stopped": stats.interrupted,
    }


TRANSIENT = (InfrastructureError, sa.exc.OperationalError, sa.exc.InterfaceError)


def _run_partition(
    config: MigrationConfig,
    contract: CompiledContract,
    report: Callable[[RunStats, int], None],
    stop: _TaskStop,
    attempts: list[int],
) -> RunStats | None:
    """The partition's run; a lease still held by a twin that is going away (its worker just
    died) is waited for, a lost database connection retried (TASK_RETRIES). None if stopped
    before a run began."""
    from xmlmigrate.run.pipeline import run_migration

    deadline = time.monotonic() + LEASE_WAIT_S
    while not stop():
        try:
            return run_migration(config, contract, on_batch=report, stop_when=stop)
        except LeaseLost:
            raise  # this task was superseded by its retry: the retry owns the range now
        except LeaseBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
        except TRANSIENT:
            if attempts[0] > TASK_RETRIES:
                raise
            attempts[0] += 1
            time.sleep(RETRY_PAUSE_S)
    return None


def _task_error(exc: Exception) -> tuple[str, int]:
    """One line and an exit code for what stopped a partition."""
    if isinstance(exc, XmlMigrateError):
        return str(exc), exc.exit_code
    if isinstance(exc, sa.exc.DBAPIError):
        orig = exc.orig or exc
        reason = next(iter(str(orig).strip().splitlines()), "") or type(orig).__name__
        return f"database error ({type(orig).__name__}): {reason[:300]}", EXIT_INFRASTRUCTURE
    if isinstance(exc, MemoryError):
        return "out of memory", EXIT_INFRASTRUCTURE
    return f"internal error: {type(exc).__name__}: {str(exc)[:300]} (a bug)", EXIT_FAILED


def _current_worker() -> Any:
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):  # not in a Dask task
        return None


def dask_setup(_worker: Any) -> None:
    """Dask's preload hook, run in each worker process of a ``local:N`` cluster, whose
    output is the client's console: Ctrl-C, which a terminal sends to every process of the
    client's group, is the client's to handle (it stops the tasks between batches; the nanny
    still ends the process with SIGTERM), and xmlmigrate logs what the client's level shows
    (``WORKER_LOG_ENV``)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    level = os.environ.get(WORKER_LOG_ENV)
    if level:
        logging.getLogger("xmlmigrate").setLevel(level)


# -- the client -----------------------------------------------------------------------------


def _ledger_counts(engine: sa.Engine, schema: Schema, tag: str, stats: ClusterStats) -> None:
    """The outcome counts from the ledger: the log rows of every run of this cluster run —
    a partition's attempts on lost workers included, whose last batches the events may not
    have reported (each run's ``migration_run`` row carries the cluster run's tag in its
    ``cluster_run`` column)."""
    runs, logt, warn = schema.runs, schema.log, schema.warnings
    with engine.connect() as conn:
        mine = sa.select(runs.c.run_id).where(runs.c.cluster_run == tag)
        counts = {
            str(status): int(n)
            for status, n in conn.execute(
                sa.select(logt.c.status, sa.func.count())
                .where(logt.c.run_id.in_(mine))
                .group_by(logt.c.status)
            )
        }
        warnings = conn.execute(
            sa.select(sa.func.count()).select_from(warn).where(warn.c.run_id.in_(mine))
        ).scalar_one()
        configs = [
            str(c) for (c,) in conn.execute(sa.select(runs.c.config).where(runs.c.run_id.in_(mine)))
        ]
    stats.fit = merged_fit(configs)
    stats.success = int(counts.get("success", 0))
    stats.failed = int(counts.get("failed", 0))
    stats.rejected = int(counts.get("rejected", 0))
    stats.records = stats.success + stats.failed + stats.rejected
    stats.warnings = int(warnings)


def merged_fit(configs: list[str]) -> dict[str, Any] | None:
    """The contract fit of a cluster run from its partitions' runs (each records its own,
    xmlmigrate.fit): a column counts as filled if any partition filled it."""
    fits = []
    for text in configs:
        try:
            fit = json.loads(text).get("fit")
        except (ValueError, AttributeError):
            continue
        if isinstance(fit, dict) and fit.get("apps"):
            fits.append(fit)
    if not fits:
        return None
    never = set(fits[0]["never_filled"])
    for fit in fits[1:]:
        never &= set(fit["never_filled"])
    columns = int(fits[0]["columns"])
    filled = columns - len(never)
    return {
        "columns": columns,
        "filled": filled,
        "filled_share": round(filled / columns, 4) if columns else 1.0,
        "apps": sum(int(f["apps"]) for f in fits),
        "never_filled": [n for n in fits[0]["never_filled"] if n in never],
    }


class _Tally:
    """The counts of every attempt of every partition: from its batch events while it runs,
    from its result when it ends. An attempt killed with its worker keeps the counts of its
    last reported batch (what it committed, unless the kill fell between a commit and its
    event); its retry adds what it does itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[tuple[str, str], dict[str, int]] = {}

    def add(self, part: str, run: str, counts: dict[str, Any], final: bool = False) -> None:
        with self._lock:
            known = self._attempts.get((part, run))
            if final or known is None or int(counts["records"]) >= known["records"]:
                self._attempts[(part, run)] = {k: int(counts[k]) for k in COUNTS}

    def into(self, stats: ClusterStats) -> None:
        with self._lock:
            for key in COUNTS:
                setattr(stats, key, sum(a[key] for a in self._attempts.values()))


@dataclass
class ClusterStats(Outcomes):
    cluster: str
    dashboard: str | None
    partitions: int
    pending: int
    rows: int = 0
    elapsed: float = 0.0
    parts: list[dict[str, Any]] = field(default_factory=list)
    fit: dict[str, Any] | None = None  # merged from the partitions' runs (merged_fit)
    contract_sha256: str | None = None  # of the contract texts every task compiled
    stop_signal: str | None = None  # SIGINT or SIGTERM when a signal stopped the run
    unstopped: int = 0  # tasks still running when the client stopped waiting for them

    @property
    def rec_per_min(self) -> float:
        return self.records / self.elapsed * 60 if self.elapsed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"rec_per_min": round(self.rec_per_min)}


def _failure(part: dict[str, Any], committed: int) -> PartitionFailed:
    code = int(part["exit_code"])
    if committed and code == EXIT_USAGE:
        code = EXIT_FAILED
    tries = int(part.get("attempts", 1))
    written = (
        f"{committed:,} apps of this run are committed (see 'xmlmigrate status'), the rest stays "
        "pending"
        if committed
        else "nothing was written"
    )
    error = PartitionFailed(
        f"partition {part['start']}–{part['end']} failed"
        + (f" ({tries} attempts)" if tries > 1 else "")
        + f": {part['error']} — the other partitions stopped after their batches in flight; "
        + written
    )
    error.exit_code = code
    return error


def _client(spec: ClusterSpec) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UserError(
            "--cluster needs Dask distributed: pip install 'xmlmigrate[dask]'"
        ) from None
    # Dask logs a lost connection with tracebacks; the run reports it in one line (-vv shows
    # Dask's own account)
    if not log.isEnabledFor(logging.DEBUG):
        known = list(logging.root.manager.loggerDict)  # Dask's config sets levels per logger
        for name in ("distributed", "tornado", "asyncio", *known):
            if name.split(".")[0] in ("distributed", "tornado", "asyncio"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
    if spec.local_workers:
        # the workers log what a -v client shows; at the default level only errors
        level = logging.getLogger("xmlmigrate").getEffectiveLevel()
        level = level if level < logging.WARNING else logging.ERROR
        import dask

        # Dask's statistical profiler samples every thread of a worker each 10 ms: on 10,000
        # realistic documents it cost a local:2 run 6-8 % of its time (docs/cluster.md); the
        # workers this run starts (their nannies copy this config) do without it
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(
                n_workers=spec.local_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
                preload=[__name__],  # dask_setup
                env={WORKER_LOG_ENV: logging.getLevelName(level)},
            )
        return Client(cluster), cluster
    try:
        return Client(spec.address, timeout="20s"), None
    except OSError as exc:
        raise InfrastructureError(
            f"cannot reach the Dask scheduler at {spec.address}: {exc}"
        ) from None


def run_on_cluster(
    config: MigrationConfig,
    spec: ClusterSpec,
    on_start: Callable[[int, int, str | None], None] | None = None,
    on_done: Callable[[ClusterStats], None] | None = None,
    contract: CompiledContract | None = None,
) -> ClusterStats:
    """Migrate every pending app of ``config.db_url`` on the cluster ``spec`` with
    ``contract`` (default: ``config.contracts``, loaded here); every task compiles its text.
    SIGINT / SIGTERM stop the tasks between batches; a partition that fails raises
    :class:`PartitionFailed` once the others stopped."""
    if sa.engine.make_url(config.db_url).get_backend_name() == "sqlite":
        raise UserError(
            "--cluster needs a server database: SQLite has one writer (a file on one machine)"
        )
    if config.modulo is not None or config.limit is not None:
        raise UserError("--cluster splits app_xml itself: no --modulo or --limit with it")
    from xmlmigrate.contract import load_contracts

    # contract errors: before any cluster
    contract = contract if contract is not None else load_contracts(config.contracts)
    texts = ContractTexts.of(contract)
    if texts is None:
        raise UserError("--cluster needs a contract compiled from its text (a file)")
    schema = build_schema(contract, config.source_ref)
    engine = make_engine(config.db_url, lock_timeout=config.lock_timeout)  # planning, counts
    try:
        schema = prepare_target(engine, schema)  # first: the partitions' plan reads the log
        plan = plan_partitions(engine, schema, config)
        with StopFlag() as stop:  # from here SIGINT / SIGTERM stop the run's tasks
            started = time.perf_counter()  # the run's time includes starting the cluster
            client, cluster = _client(spec)
            try:
                run = _ClusterRun(config, spec, texts, client, stop, on_done, started)
                return run.execute(engine, schema, plan, on_start)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    finally:
        engine.dispose()


class _ClusterRun:
    """One ``run --cluster``: its tasks, their progress events, the stop."""

    def __init__(
        self,
        config: MigrationConfig,
        spec: ClusterSpec,
        contract: ContractTexts,
        client: Any,
        stop: StopFlag,
        on_done: Callable[[ClusterStats], None] | None,
        started: float,
    ) -> None:
        from distributed import Event

        self.config = config
        self.spec = spec
        self.contract = contract
        self.client = client
        self.stop = stop
        self.on_done = on_done
        self.started = started
        self.tag = uuid.uuid4().hex  # this cluster run's: its topics, in each partition's run
        self.topic = f"{PROGRESS_TOPIC}-{self.tag}"  # a scheduler may serve several clients
        self.stop_event = Event(f"{STOP_EVENT}-{self.tag}", client=client)
        self.tally = _Tally()
        self.failure: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._counted = threading.Event()  # the final counts are the ledger's: no late event
        self.stats = ClusterStats(spec.describe(), None, 0, 0)

    def execute(
        self,
        engine: sa.Engine,
        schema: Schema,
        plan: Plan,
        on_start: Callable[[int, int, str | None], None] | None,
    ) -> ClusterStats:
        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        bounds = plan.bounds(partition_count(plan.pending, workers, self.config.batch_size))
        dashboard = getattr(self.client, "dashboard_link", None)
        stats = self.stats
        stats.dashboard, stats.partitions, stats.pending = dashboard, len(bounds), plan.pending
        stats.contract_sha256 = self.contract.digest
        if on_start is not None:
            on_start(plan.pending, len(bounds), dashboard)
        if bounds and not self.stop.requested:
            try:
                self._migrate(bounds)
            except (OSError, TimeoutError, CancelledError) as exc:  # FutureCancelledError too
                raise InfrastructureError(
                    f"lost the Dask scheduler ({type(exc).__name__}: "
                    f"{(str(exc).splitlines() or [''])[0]}); the partitions that finished are "
                    f"committed — run again to resume ({redact_url(self.config.db_url)})"
                ) from None
        with self._lock:
            self._counted.set()
            self.tally.into(stats)
            _ledger_counts(engine, schema, self.tag, stats)
            stats.elapsed = time.perf_counter() - self.started
        stats.stop_signal = self.stop.signal
        if self.failure is not None:
            raise _failure(self.failure, stats.records)
        return stats

    def _migrate(self, bounds: list[tuple[int, int]]) -> None:
        from distributed import as_completed

        base = {
            k: v for k, v in asdict(self.config).items() if k not in ("app_id_start", "app_id_end")
        }
        base["cluster_run"] = self.tag
        self.client.subscribe_topic(self.topic, self._on_event)
        futures = []
        try:
            futures = [
                self.client.submit(
                    migrate_partition,
                    base,
                    self.contract,
                    start,
                    end,
                    self.tag,
                    key=f"xmlmigrate-partition-{start}-{end}-{time.time_ns()}",
                    pure=False,
                )
                for start, end in bounds
            ]
            self._wait(
                as_completed(futures), {f.key: b for f, b in zip(futures, bounds, strict=True)}
            )
        finally:
            with suppress(Exception):  # the scheduler may be gone: so are its subscriptions
                self.client.unsubscribe_topic(self.topic)
            with suppress(Exception):  # not one task of this run may start after it ended
                self.client.cancel([f for f in futures if not f.done()])

    def _wait(self, pending: Any, bounds: dict[Any, tuple[int, int]]) -> None:
        """Collect the tasks' results; once the client is stopped or a task failed, set the
        stop event and wait for the rest at most STOP_WAIT_S."""
        deadline: float | None = None
        while not pending.is_empty():
            if deadline is None and (self.stop.requested or self.failure is not None):
                deadline = time.monotonic() + STOP_WAIT_S
                log.info("stopping the tasks after their batches in flight")
                self.stop_event.set()
            if deadline is not None and time.monotonic() > deadline:
                self.stats.unstopped = pending.count()
                return
            done = pending.next_batch(block=False)
            if not done:
                time.sleep(POLL_S)
                continue
            for future in done:
                self._collect(future, bounds[future.key])
        if deadline is not None:
            with suppress(Exception):  # every task has stopped: the scheduler may forget it
                self.stop_event.clear()

    def _collect(self, future: Any, bounds: tuple[int, int]) -> None:
        from distributed import KilledWorker

        start, end = bounds
        failed: dict[str, Any] = {"start": start, "end": end, "run": None}
        failed |= dict.fromkeys(COUNTS, 0)
        try:
            part: dict[str, Any] = future.result()
        except KilledWorker as exc:  # Dask ran it on allowed-failures + 1 workers that died
            part = failed | {"exit_code": EXIT_INFRASTRUCTURE, "attempts": 1 + exc.allowed_failures}
            part["error"] = "its worker died each time (killed? out of memory?)"
        except (OSError, TimeoutError, CancelledError):
            raise  # the scheduler is gone (run_on_cluster says so)
        except Exception as exc:  # the task could not even start (a worker that cannot load it)
            part = failed | {"exit_code": EXIT_FAILED, "attempts": 1}
            part["error"] = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}"
        if part.get("error") is not None and self.failure is None:
            self.failure = part
        if part["run"] is not None:
            self.stats.parts.append(part)
            self.tally.add(f"{part['start']}-{part['end']}", str(part["run"]), part, final=True)
        self._report()

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        self.tally.add(str(msg["part"]), str(msg["run"]), msg)
        self._report()

    def _report(self) -> None:
        with self._lock:
            if self._counted.is_set():
                return
            self.tally.into(self.stats)
            self.stats.elapsed = time.perf_counter() - self.started
            if self.on_done is not None:
                self.on_done(self.stats)

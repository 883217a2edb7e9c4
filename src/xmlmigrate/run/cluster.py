"""``xmlmigrate run --cluster``: the migration on a Dask cluster.

The pending part of ``app_xml`` is split into contiguous app-id ranges (partitions) — more of
them than workers, sized from the pending count and the batch size — and each partition is a
Dask task that runs the ordinary engine (:func:`~xmlmigrate.run.pipeline.run_migration`) on
its range, in the Dask worker's process: the same contract, knobs, batches and ledger. Each
committed batch is a Dask event the client's progress bar follows.

Exactly once, across the cluster, rests on what a single machine already has:

* a partition's run holds its *lease* in the target database while it runs (PostgreSQL
  advisory lock, MariaDB ``GET_LOCK``, SQL Server ``sp_getapplock``): a worker killed with
  SIGKILL loses it with its connection, and a twin that still holds it keeps a retry out;
* a retried task (Dask retries a task whose worker died) resumes its range: the apps already
  logged in ``processing_log`` are skipped, each batch commits its rows and its log rows in
  one transaction;
* a zombie twin — a task Dask gave up on whose process still runs, its lease connection
  gone — cannot write: each batch transaction first locks the run's lease row, which the
  retry's claim has deleted (:func:`~xmlmigrate.db.lease.fence_sql`).

SQLite is refused (one writer). ``local:N`` starts a ``LocalCluster`` of N single-threaded
worker processes; ``tcp://HOST:8786`` uses a running scheduler (``dask scheduler`` there,
``dask worker tcp://HOST:8786`` on every machine that reaches both databases).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine, redact_url
from xmlmigrate.errors import InfrastructureError, LeaseBusy, LeaseLost, UserError
from xmlmigrate.model import RunStats
from xmlmigrate.schema import Schema, build_schema
from xmlmigrate.sources import check_source, pending_condition

log = logging.getLogger(__name__)

PARTS_PER_WORKER = 4  # more partitions than workers: a slow or lost one delays less
LEASE_WAIT_S = 60.0  # a retried task waits this long for a dead twin's lease to lapse
TASK_RETRIES = 3
PROGRESS_TOPIC = "xmlmigrate-progress"  # + the run's own suffix: an event per committed batch
COUNTS = ("records", "success", "failed", "rejected", "warnings", "rows")


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


def partition_bounds(ids: list[int], parts: int) -> list[tuple[int, int]]:
    """Contiguous inclusive app-id ranges holding about the same number of the (sorted)
    pending ids; the first starts at the smallest id, the last ends at the largest."""
    if not ids:
        return []
    parts = max(1, min(parts, len(ids)))
    size = math.ceil(len(ids) / parts)
    bounds = []
    for i in range(0, len(ids), size):
        chunk = ids[i : i + size]
        bounds.append((chunk[0], chunk[-1]))
    return bounds


def partition_count(pending: int, workers: int, batch_size: int) -> int:
    """PARTS_PER_WORKER per worker, but no partition shorter than one batch."""
    return max(1, min(PARTS_PER_WORKER * max(workers, 1), math.ceil(pending / max(batch_size, 1))))


def pending_ids(engine: sa.Engine, schema: Schema, config: MigrationConfig) -> list[int]:
    """App ids of the source tables this run takes (the source's own pending condition),
    sorted."""
    ids: list[int] = []
    for src in schema.sources or (schema.source,):
        query = sa.select(src.c.app_id).where(pending_condition(src, schema.log, config))
        try:
            with engine.connect() as conn:
                ids += [int(r[0]) for r in conn.execute(query)]
        except sa.exc.OperationalError as exc:
            raise InfrastructureError(f"cannot read {src.name}: {exc.orig}") from None
    return sorted(set(ids))


def _counts(stats: RunStats) -> dict[str, int]:
    """A partition run's COUNTS."""
    rows = sum(stats.rows_per_table.values())
    return {k: rows if k == "rows" else int(getattr(stats, k)) for k in COUNTS}


def migrate_partition(
    config: dict[str, Any], start: int, end: int, topic: str | None = None
) -> dict[str, Any]:
    """One Dask task: the engine on ``start..end``, in this worker's process. A lease still
    held by a twin that is going away (its worker just died) is waited for. Every committed
    batch is reported to the client as a Dask event on ``topic``."""
    from xmlmigrate.run.pipeline import run_migration

    part = MigrationConfig(**{**config, "app_id_start": start, "app_id_end": end, "workers": 0})
    worker = _current_worker()

    def report(stats: RunStats, _done: int) -> None:
        if worker is not None and topic is not None:
            worker.log_event(
                topic, {"part": f"{start}-{end}", "run": stats.run_id, **_counts(stats)}
            )

    deadline = time.monotonic() + LEASE_WAIT_S
    while True:
        try:
            stats = run_migration(part, on_batch=report)
            break
        except LeaseLost:
            raise  # this task was superseded by its retry: the retry owns the range now
        except LeaseBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    return {
        "start": start,
        "end": end,
        "run": stats.run_id,
        **_counts(stats),
        "elapsed": stats.elapsed,
    }


def _ledger_counts(engine: sa.Engine, schema: Schema, tag: str, stats: ClusterStats) -> None:
    """The outcome counts from the ledger: the log rows of every run of this cluster run —
    a partition's attempts on lost workers included, whose last batches the events may not
    have reported (each run's ``migration_run`` row carries the cluster run's tag)."""
    runs, logt, warn = schema.runs, schema.log, schema.warnings
    with engine.connect() as conn:
        mine = sa.select(runs.c.run_id).where(runs.c.config.like(f'%"cluster_run": "{tag}"%'))
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


def _current_worker() -> Any:
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):  # not in a Dask task
        return None


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
class ClusterStats:
    cluster: str
    dashboard: str | None
    partitions: int
    pending: int
    records: int = 0
    success: int = 0
    failed: int = 0
    rejected: int = 0
    warnings: int = 0
    rows: int = 0
    elapsed: float = 0.0
    parts: list[dict[str, Any]] = field(default_factory=list)
    fit: dict[str, Any] | None = None  # merged from the partitions' runs (merged_fit)

    @property
    def rec_per_min(self) -> float:
        return self.records / self.elapsed * 60 if self.elapsed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"rec_per_min": round(self.rec_per_min)}


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
        cluster = LocalCluster(
            n_workers=spec.local_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
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
) -> ClusterStats:
    """Migrate every pending app of ``config.db_url`` on the cluster ``spec``."""
    if sa.engine.make_url(config.db_url).get_backend_name() == "sqlite":
        raise UserError(
            "--cluster needs a server database: SQLite has one writer (a file on one machine)"
        )
    if config.modulo is not None or config.limit is not None:
        raise UserError("--cluster splits app_xml itself: no --modulo or --limit with it")
    from xmlmigrate.contract import load_contracts

    # contract errors: before any cluster
    schema = build_schema(load_contracts(config.contracts), config.source_ref)
    engine = make_engine(config.db_url)  # the client's: pending ids, final counts
    try:
        schema = check_source(engine, schema)
        ids = pending_ids(engine, schema, config)
        return _run(config, spec, schema, engine, ids, on_start, on_done)
    finally:
        engine.dispose()


def _run(
    config: MigrationConfig,
    spec: ClusterSpec,
    schema: Schema,
    engine: sa.Engine,
    ids: list[int],
    on_start: Callable[[int, int, str | None], None] | None,
    on_done: Callable[[ClusterStats], None] | None,
) -> ClusterStats:
    started = time.perf_counter()
    tag = uuid.uuid4().hex  # this cluster run's: its event topic, and in each partition's run
    topic = f"{PROGRESS_TOPIC}-{tag}"  # a scheduler may serve several clients
    client, cluster = _client(spec)
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        bounds = partition_bounds(ids, partition_count(len(ids), workers, config.batch_size))
        dashboard = getattr(client, "dashboard_link", None)
        stats = ClusterStats(spec.describe(), dashboard, len(bounds), len(ids))
        if on_start is not None:
            on_start(len(ids), len(bounds), dashboard)
        if not bounds:
            return stats
        base = {k: v for k, v in asdict(config).items() if k not in ("app_id_start", "app_id_end")}
        base["cluster_run"] = tag
        tally = _Tally()
        report_lock = threading.Lock()
        counted = threading.Event()  # the final counts are the ledger's: no late event after

        def report() -> None:
            with report_lock:
                if counted.is_set():
                    return
                tally.into(stats)
                stats.elapsed = time.perf_counter() - started
                if on_done is not None:
                    on_done(stats)

        def on_event(event: tuple[float, dict[str, Any]]) -> None:
            msg = event[1]
            tally.add(str(msg["part"]), str(msg["run"]), msg)
            report()

        from distributed import as_completed

        try:
            client.subscribe_topic(topic, on_event)
            futures = [
                client.submit(
                    migrate_partition,
                    base,
                    start,
                    end,
                    topic,
                    key=f"xmlmigrate-partition-{start}-{end}-{time.time_ns()}",
                    retries=TASK_RETRIES,
                    pure=False,
                )
                for start, end in bounds
            ]
            for future in as_completed(futures):
                part = future.result()
                stats.parts.append(part)
                tally.add(f"{part['start']}-{part['end']}", str(part["run"]), part, final=True)
                report()
        except (OSError, TimeoutError, CancelledError) as exc:  # Dask: FutureCancelledError
            raise InfrastructureError(
                f"lost the Dask scheduler ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "the partitions that "
                f"finished are committed — run again to resume ({redact_url(config.db_url)})"
            ) from None
        except LeaseBusy as exc:
            raise LeaseBusy(f"a partition stayed leased by another run: {exc}") from None
        with report_lock:
            counted.set()
            tally.into(stats)
            _ledger_counts(engine, schema, tag, stats)
            stats.elapsed = time.perf_counter() - started
        return stats
    finally:
        with suppress(Exception):  # the scheduler may be gone: so are its subscriptions
            client.unsubscribe_topic(topic)
        client.close()
        if cluster is not None:
            cluster.close()

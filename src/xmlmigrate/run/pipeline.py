"""The coordinator: source pages → transform (worker processes) → loader, with stats.

The main process reads ``app_xml`` in keyset pages of ``batch_size`` records — fewer when
their documents reach ``max_batch_bytes`` — and hands each page to the transform:
in-process (``workers = 0``) or to worker processes. With
``pipelined`` (the default) up to ``workers + 1`` batches are in flight, so documents are
transformed while earlier batches are written; without it each batch is split across the
workers and written before the next one is read. Whatever the mode, the documents read and not
yet committed stay within ``IN_FLIGHT_PAGES`` pages of ``max_batch_bytes`` (one larger
document aside): memory is bounded by bytes, not by a count of documents. Batches always
commit in source order, so the outcome does not depend on the number of workers or on timing.

Ctrl-C and SIGTERM (what container orchestrators send): reading stops, batches already
transformed are committed (in order), the run ends; nothing uncommitted is logged. A second
signal aborts at once. A crashed worker stops the run the same way: what finished commits, the
rest stays pending for the next run. A run holds a lease on the apps it takes
(:mod:`xmlmigrate.db.lease`), so a second run on the same apps of the same target is refused.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from time import perf_counter
from types import FrameType

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.config import IN_FLIGHT_PAGES, MigrationConfig
from xmlmigrate.contract import CompiledContract, load_contracts
from xmlmigrate.contract.shipped import ContractTexts
from xmlmigrate.db import make_engine
from xmlmigrate.db.engine import redact_url
from xmlmigrate.db.lease import Lease, Partition
from xmlmigrate.db.locks import is_lock_timeout, lock_timeout_message
from xmlmigrate.db.schema import Schema, build_schema
from xmlmigrate.errors import InfrastructureError, WorkerCrashed
from xmlmigrate.fit import FillTally
from xmlmigrate.ledger import (
    Attempt,
    attempts_of,
    finish_run,
    new_run_id,
    start_run,
    upgrade_ledger,
)
from xmlmigrate.loader import ExistingRows, KeyCache, Loader, Writers
from xmlmigrate.model import MappedApp, RawRecord, Rejection, RunStats
from xmlmigrate.run.workers import (
    STOP_SIGNALS,
    BatchResult,
    TransformOptions,
    TransformPool,
    peak_rss_mb,
    transform_batch,
)
from xmlmigrate.sources import TableSource, check_source

log = logging.getLogger(__name__)

ProgressCallback = Callable[[RunStats, int], None]


def prepare_target(engine: Engine, schema: Schema) -> Schema:
    """The source checked (SourceMissing, exit 2, names the table; the schema as found), the
    tables the run writes created where missing, and a log an earlier version created given
    its new columns."""
    schema = check_source(engine, schema)
    if schema.missing_tables(engine):
        schema.create(engine)
    upgrade_ledger(engine, schema)
    return schema


class StopFlag:
    """The first SIGINT or SIGTERM asks the run to stop between batches; a second one
    interrupts at once. ``stop_when``: the caller's own stop condition, asked along (a
    ``--cluster`` task's: its client asked its tasks to stop)."""

    def __init__(self, stop_when: Callable[[], bool] | None = None) -> None:
        self._requested = False
        self._stop_when = stop_when
        self.signal: str | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        if not self._requested and self._stop_when is not None and self._stop_when():
            self._requested = True
        return self._requested

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._requested:
            raise KeyboardInterrupt
        self._requested = True
        self.signal = signal.Signals(signum).name
        log.info("%s received: committing the batches in flight, then stopping", self.signal)

    def __exit__(self, *_exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]


def partition_of(config: MigrationConfig) -> Partition:
    return Partition(
        config.app_id_start,
        config.app_id_end,
        config.modulo,
        config.modulo_instance if config.modulo is not None else 0,
    )


def run_migration(
    config: MigrationConfig,
    contract: CompiledContract | None = None,
    on_start: Callable[[int], None] | None = None,
    on_batch: ProgressCallback | None = None,
    stop_when: Callable[[], bool] | None = None,
) -> RunStats:
    """Migrate every pending app of ``config.db_url``; return the run's stats.

    ``on_start(pending)`` is called once with the number of records to do,
    ``on_batch(stats, done)`` after every committed batch.
    """
    began = perf_counter()  # the first batch's latency counts from here
    contract = contract or load_contracts(config.contracts)
    schema = build_schema(contract, config.source_ref)
    engine = make_engine(config.db_url, lock_timeout=config.lock_timeout)
    try:
        schema = prepare_target(engine, schema)
        run_id = new_run_id()
        with Lease(engine, schema.lease, partition_of(config), run_id) as lease:
            # the reader uses the lease's connection: a run opens no extra one for its lease
            source = TableSource(engine, schema, config, lease.connection)
            pending = source.pending_count()
            workers = config.resolved_workers(pending)
            if workers and ContractTexts.of(contract) is None:
                log.info("the contract has no text worker processes could compile: in-process")
                workers = 0
            stats = RunStats(
                run_id=run_id, workers=workers, threads=config.threads, pending=pending
            )
            log.info(
                "run %s: %d apps pending, %s",
                run_id[:12],
                pending,
                f"{workers} worker processes" if workers else "no workers (in-process)",
            )
            if pending == 0:
                return stats  # nothing to do: no run is recorded
            return _migrate(
                config,
                contract,
                engine,
                schema,
                source,
                stats,
                on_start,
                on_batch,
                stop_when,
                began,
            )
    except sa.exc.DBAPIError as exc:  # the reader and the writer name what they waited for
        if not is_lock_timeout(exc):
            raise
        tables = [t.name for t in (*schema.sources, *schema.targets, schema.log, schema.lease)]
        raise InfrastructureError(
            lock_timeout_message("the run", config.lock_timeout, engine, tables)
        ) from None
    finally:
        engine.dispose()


def _migrate(
    config: MigrationConfig,
    contract: CompiledContract,
    engine: Engine,
    schema: Schema,
    source: TableSource,
    stats: RunStats,
    on_start: Callable[[int], None] | None,
    on_batch: ProgressCallback | None,
    stop_when: Callable[[], bool] | None,
    began: float,
) -> RunStats:
    texts = ContractTexts.of(contract)  # the run records which contract it mapped with
    stored = {
        **describe_config(config),
        "workers": stats.workers,
        "contract_sha256": texts.digest if texts is not None else None,
    }
    start_run(engine, schema, stats.run_id, stored)
    log.info(
        "run %s: batch size %d (a page is cut at %s MB), %s",
        stats.run_id[:12],
        config.batch_size,
        f"{config.max_batch_bytes / 1e6:,.0f}",
        "pipelined" if config.pipelined else "one batch at a time",
    )
    if on_start is not None:
        on_start(stats.pending)
    writers = Writers(engine, contract, config.pooling, fence=stats.run_id)
    existing = ExistingRows(engine, contract)
    loader = Loader(
        writers,
        stats.run_id,
        KeyCache(contract) if config.dedup_cache else None,
        existing if existing.tables else None,
        replace=config.changed,
    )
    run = _Run(config, stats.workers, contract, source, loader, stats, on_batch, began)
    finished = False
    try:
        with StopFlag(stop_when) as stop:
            try:
                run.execute(stop)
            finally:
                stats.stop_signal = stop.signal
        finished = True
    finally:
        with suppress(Exception):  # a dead connection cannot be closed cleanly: it is gone
            writers.close()
        stats.connections_opened = writers.opened
        stats.statements = writers.statements_sent
        stats.source_queries = source.queries
        stats.transactions = loader.transactions
        stats.failed_transactions = loader.failed_transactions
        stats.cache_duplicates = loader.key_cache.hits if loader.key_cache else 0
        stats.fit = run.tally.to_dict()
        log.info(
            "run %s %s: batches committed %d, records %d — success %d, failed %d, rejected "
            "%d; %.1f s",
            stats.run_id[:12],
            "finished" if finished else "stopped",
            stats.batches,
            stats.records,
            stats.success,
            stats.failed,
            stats.rejected,
            stats.elapsed,
        )
        if finished:
            finish_run(engine, schema, stats, stored)
        else:  # the run's own error is what the user must see; record the counts if possible
            with suppress(Exception):
                finish_run(engine, schema, stats, stored)
    return stats


class _Prefetch:
    """Reads the next pages in a thread while the coordinator writes: the database driver
    waits on the network and the server with the GIL released, so reading overlaps writing.
    Bounded: at most ``depth`` pages wait here, and a page is read only while the documents
    read and not yet committed (:meth:`committed` releases the oldest page's) leave room for
    one more page of ``page_bytes`` within ``max_bytes`` — or while none is held."""

    _END = object()

    def __init__(
        self,
        pages: Iterator[list[RawRecord]],
        depth: int,
        max_bytes: int | None = None,
        page_bytes: int = 0,
    ) -> None:
        self._pages = pages
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._max_bytes, self._page_bytes = max_bytes, page_bytes
        self._held = 0  # bytes of the documents read and not yet committed
        self._sizes: deque[int] = deque()  # of each page read and not committed, oldest first
        self._room = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="xmlmigrate-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while self._wait_for_room():
                page = next(self._pages, None)
                if page is None:
                    self._put(self._END)
                    return
                size = sum(len(r.xml or b"") for r in page)
                with self._room:
                    self._held += size
                    self._sizes.append(size)
                if not self._put(page):
                    return
        except BaseException as exc:  # handed to the coordinator, raised there
            self._put(exc)

    def _wait_for_room(self) -> bool:
        """Wait until another page fits the bytes in flight unless asked to stop; False if
        stopped first."""
        with self._room:
            while (
                self._held
                and self._max_bytes is not None
                and self._held + self._page_bytes > self._max_bytes
                and not self._stop.is_set()
            ):
                self._room.wait(timeout=0.2)
        return not self._stop.is_set()

    def committed(self) -> None:
        """The oldest page read is committed: its bytes leave the bytes in flight."""
        with self._room:
            if self._sizes:
                self._held -= self._sizes.popleft()
            self._room.notify_all()

    def _put(self, item: object) -> bool:
        """Wait for room in the queue unless asked to stop; False if stopped first."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def next(self) -> list[RawRecord] | None:
        item = self._queue.get()
        if item is self._END:
            self._queue.put(item)  # later calls see the end too
            return None
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class _Run:
    def __init__(
        self,
        config: MigrationConfig,
        workers: int,
        contract: CompiledContract,
        source: TableSource,
        loader: Loader,
        stats: RunStats,
        on_batch: ProgressCallback | None,
        began: float,
    ) -> None:
        self.config = config
        self.began = began
        self.workers = workers
        # batches in flight: one per worker plus one waiting, so no worker idles while the
        # coordinator writes, and at most a few pages of documents are in memory at once
        self._depth = workers + 1
        self.contract = contract
        self.loader = loader
        self.stats = stats
        self.tally = FillTally.of(contract)
        self.on_batch = on_batch
        self.options = TransformOptions(
            config.scoped_parse, config.check_well_formed, config.threads
        )
        self.times = stats.stage_seconds
        # documents read and not committed (read ahead, transforming, waiting to commit):
        # within IN_FLIGHT_PAGES pages of max_batch_bytes, whatever the workers and the depth
        self._reader = _Prefetch(
            source.pages(),
            depth=1,
            max_bytes=IN_FLIGHT_PAGES * config.max_batch_bytes,
            page_bytes=config.max_batch_bytes,
        )
        self.started = perf_counter()
        self._worker_peaks: dict[int, float] = {}  # pid → peak RSS (MB)

    def read(self) -> list[RawRecord] | None:
        """The next page; ``read`` time is how long the coordinator waited for it."""
        t0 = perf_counter()
        page = self._reader.next()
        self.times["read"] += perf_counter() - t0
        return page

    def execute(self, stop: StopFlag) -> None:
        try:
            self._execute(stop)
        finally:
            self._reader.close()

    def _execute(self, stop: StopFlag) -> None:
        try:
            if self.workers == 0:
                self._in_process(stop)
            elif self.config.pipelined:
                self._pipelined(stop)
            else:
                self._serial_parallel(stop)
        finally:
            self.stats.elapsed = perf_counter() - self.started
            self.stats.interrupted = stop.requested
            rss, workers = self.stats.peak_rss_mb, self._worker_peaks.values()
            rss["coordinator"] = peak_rss_mb()
            if workers:
                rss["worker"] = max(workers)
            rss["whole run"] = rss["coordinator"] + sum(workers)

    # -- modes ------------------------------------------------------------------------------
    def _in_process(self, stop: StopFlag) -> None:
        while not stop.requested and (page := self.read()) is not None:
            self._here(page)

    def _here(self, page: list[RawRecord]) -> None:
        """Transform and commit one page in this process."""
        results, times = transform_batch(page, self.contract, self.options)
        self.commit(_attempts(page), BatchResult(0, results, times))

    def _pool(self) -> TransformPool:
        # the texts of the contract this run maps with (not config.contracts: a caller may
        # pass another contract, a file may have changed since), compiled again by each
        # worker process
        texts = ContractTexts.of(self.contract)
        assert texts is not None  # checked before any worker is started
        return TransformPool(self.workers, texts, self.options, self._depth)

    def _pipelined(self, stop: StopFlag) -> None:
        pool = self._pool()
        # per batch in flight only the attempt numbers stay here, not the documents
        inflight: dict[int, dict[int, Attempt]] = {}
        done: dict[int, BatchResult] = {}
        next_seq = next_commit = 0
        exhausted = failed = False
        try:
            # the workers take a second or more to start: the first batch is done here
            # meanwhile, so it commits within a second of the start whatever the workers
            if not stop.requested and (page := self.read()) is not None:
                self.stats.coordinator_batches += 1
                self._here(page)
            else:
                exhausted = True
            while True:
                while not (exhausted or stop.requested) and len(inflight) < self._depth:
                    page = self.read()
                    if page is None:
                        exhausted = True
                        break
                    pool.submit(next_seq, page)
                    inflight[next_seq] = _attempts(page)
                    next_seq += 1
                if len(done) == len(inflight):  # nothing outstanding
                    break
                t0 = perf_counter()
                result = pool.get()
                self.times["wait"] += perf_counter() - t0
                done[result.seq] = result
                next_commit = self._commit_ready(inflight, done, next_commit)
                if stop.requested and next_commit == next_seq:
                    break
        except WorkerCrashed as exc:
            failed = True
            self.stats.crash = str(exc)
            for result in pool.drain(timeout=1.0):  # what the live workers still finish
                done[result.seq] = result
            self._commit_ready(inflight, done, next_commit)
        finally:
            pool.close(force=failed or stop.requested)

    def _commit_ready(
        self,
        inflight: dict[int, dict[int, Attempt]],
        done: dict[int, BatchResult],
        next_commit: int,
    ) -> int:
        """Commit finished batches in source order; return the next sequence to commit."""
        while next_commit in done:
            self.commit(inflight.pop(next_commit), done.pop(next_commit))
            next_commit += 1
        return next_commit

    def _serial_parallel(self, stop: StopFlag) -> None:
        pool = self._pool()
        failed = False
        try:
            while not stop.requested and (page := self.read()) is not None:
                n = self.workers
                chunks = [page[i::n] for i in range(n)]
                chunks = [c for c in chunks if c]
                for i, chunk in enumerate(chunks):
                    pool.submit(i, chunk)
                t0 = perf_counter()
                parts = sorted((pool.get() for _ in chunks), key=lambda r: r.seq)
                self.times["wait"] += perf_counter() - t0
                by_app = {r.app_id: r for part in parts for r in part.results}
                times = {k: sum(p.times.get(k, 0.0) for p in parts) for k in parts[0].times}
                results = [by_app[rec.app_id] for rec in page]
                for part in parts:  # the workers' memory is reported too
                    self._note_peak(part.pid, part.peak_rss_mb)
                self.commit(_attempts(page), BatchResult(0, results, times))
        except WorkerCrashed as exc:
            failed = True
            self.stats.crash = str(exc)
        finally:
            pool.close(force=failed or stop.requested)

    # -- committing ---------------------------------------------------------------------------
    def _note_peak(self, pid: int, mb: float) -> None:
        """A worker's peak RSS as its latest batch reported it (summed up when the run ends)."""
        self._worker_peaks[pid] = max(self._worker_peaks.get(pid, 0.0), mb)

    def commit(self, attempts: dict[int, Attempt], result: BatchResult) -> None:
        if result.peak_rss_mb:
            self._note_peak(result.pid, result.peak_rss_mb)
        for stage, seconds in result.times.items():
            self.times[stage] += seconds
        t1 = perf_counter()
        results: list[MappedApp | Rejection] = result.results
        committed = self.loader.commit(results, attempts)
        self.times["write"] += perf_counter() - t1
        self._reader.committed()  # batches commit in the order their pages were read
        stats = self.stats
        for outcome, app in committed:
            stats.add_outcome(outcome)
            if app is not None:
                self.tally.add(app)
                stats.truncated_values += app.truncated
                stats.defaulted_values += app.defaulted
                stats.clamped_values += app.clamped
                stats.invalid_values += app.invalid
                for table, rows in app.rows.items():
                    stats.rows_per_table[table] += len(rows)
        stats.batches += 1
        stats.elapsed = perf_counter() - self.started
        if stats.first_commit_s is None:
            stats.first_commit_s = perf_counter() - self.began
        if self.on_batch is not None:
            self.on_batch(stats, stats.records)


def _attempts(page: list[RawRecord]) -> dict[int, Attempt]:
    return attempts_of(page)


def describe_config(config: MigrationConfig) -> dict[str, object]:
    """The config as stored with the run: every knob, the URL without its password."""
    described: dict[str, object] = {}
    for name in config.__dataclass_fields__:
        value = getattr(config, name)
        if name == "db_url":
            described[name] = redact_url(value)
        elif isinstance(value, tuple | list):  # contracts, retry reasons: JSON lists of text
            described[name] = [str(v) for v in value]
        else:
            described[name] = (
                str(value)
                if value is not None and not isinstance(value, int | float | bool)
                else value
            )
    return described

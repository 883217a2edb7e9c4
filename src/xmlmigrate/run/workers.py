"""Transform worker processes: batches of raw records in, mapped batches out.

Workers are started with the ``spawn`` method (safe with threads, database drivers and
macOS/Windows alike) and compile the contract once each, from the text the coordinator's
contract was compiled from (never from its file, which may have changed since). A contract
error there comes back as the run's error, in one line. Queues are plain
``multiprocessing`` queues, bounded so the reader can never run ahead of the workers by more
than a few batches (back-pressure, bounded memory); there is no ``Manager`` process on the hot
path. A worker that dies is detected and reported; its batch is never logged.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import resource
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from xmlmigrate.contract.shipped import ContractTexts
from xmlmigrate.errors import WorkerCrashed, XmlMigrateError
from xmlmigrate.model import TRANSFORM_STAGES, MappedApp, RawRecord, Rejection
from xmlmigrate.run.transform import transform_record

WATCHDOG_INTERVAL_S = 0.5
OUT_OF_MEMORY = 3  # a worker's exit code when a batch exhausted its memory
# allocations from this size up get a mapping of their own, returned to the system when freed
OWN_MAPPING_BYTES = 4 * 2**20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


@dataclass(frozen=True, slots=True)
class TransformOptions:
    scoped: bool = True
    check_well_formed: bool = True
    # threads transforming a batch's records side by side in one process: libxml2 parses
    # (the well-formedness check, the scoped parse) without the GIL, beside another thread's
    # mapping; results keep the batch's order
    threads: int = 1


@dataclass(slots=True)
class BatchResult:
    seq: int
    results: list[MappedApp | Rejection]
    times: dict[str, float]
    peak_rss_mb: float = 0.0  # of the process that transformed the batch
    pid: int = 0  # that process (0: the coordinator)


@dataclass(frozen=True, slots=True)
class WorkerError:
    """What a worker sends instead of results when it cannot map at all (its contract does
    not compile): the error's one line and exit code."""

    message: str
    exit_code: int


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB. On Linux the kernel's high-water
    mark of this process's own memory (``VmHWM``): ``ru_maxrss`` also counts what a spawned
    worker was before its ``exec`` — a copy of its coordinator — and cannot be reset."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Start this process's peak RSS again from what it holds now (Linux: ``clear_refs``),
    e.g. after a measurement's reference pass; False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "wb") as refs:
            refs.write(b"5")
    except OSError:
        return False
    return True


def return_big_blocks() -> bool:
    """Have glibc serve every allocation of ``OWN_MAPPING_BYTES`` or more (a batch as it
    arrives, pickled results) from a mapping of its own, unmapped when freed. By default the
    threshold rises to the largest block freed so far, after which such blocks come from the
    heap and stay resident as fragments. Measured on 10,000 realistic documents (PostgreSQL,
    defaults, 5 interleaved pairs): a worker's peak 80-94 → 64 MB, for 0.3-4.6 % more CPU (a
    pipe read of a batch allocates what is left of it: those allocations are mapped too).
    Documents (~260 KB) stay on the heap, where a lower threshold cost 10-20 %
    (docs/benchmarks.md). False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, OWN_MAPPING_BYTES))


_POOLS: dict[int, ThreadPoolExecutor] = {}  # this process's transform threads, by count
_POOLS_LOCK = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, "transform")
        return pool


def transform_batch(
    records: list[RawRecord], contract: Any, options: TransformOptions
) -> tuple[list[MappedApp | Rejection], dict[str, float]]:
    """Each record's result, in the batch's order, and the seconds of each stage (summed over
    the threads, as over worker processes)."""
    times = dict.fromkeys(TRANSFORM_STAGES, 0.0)
    scoped, check = options.scoped, options.check_well_formed
    if options.threads <= 1 or len(records) < 2:
        results = [
            transform_record(r, contract, times, scoped=scoped, check_well_formed=check)
            for r in records
        ]
        return results, times

    def one(record: RawRecord) -> tuple[MappedApp | Rejection, dict[str, float]]:
        own = dict.fromkeys(TRANSFORM_STAGES, 0.0)
        return transform_record(record, contract, own, scoped=scoped, check_well_formed=check), own

    results = []
    for result, own in _pool(options.threads).map(one, records):
        results.append(result)
        for stage, seconds in own.items():
            times[stage] += seconds
    return results, times


def _send_results(
    outbox: queue.Queue[BatchResult | WorkerError | None], results: Connection
) -> None:
    """Worker-side sender: pickles and writes results while the worker transforms the next
    batch (the coordinator may be busy writing and not reading for a while)."""
    while (item := outbox.get()) is not None:
        try:
            results.send(item)
        except OSError:  # the coordinator is gone or closed its end: nothing left to do
            os._exit(0)


def _exit_with(coordinator: int) -> None:
    """Watchdog thread: end this worker as soon as its coordinator is gone (SIGKILLed, even
    while the worker was still starting), instead of waiting forever for tasks."""
    while os.getppid() == coordinator:
        time.sleep(WATCHDOG_INTERVAL_S)
    os._exit(0)


def _worker_main(
    contract: ContractTexts,
    options: TransformOptions,
    tasks: mp.Queue[tuple[int, list[RawRecord]] | None],
    results: Connection,
    coordinator: int,
) -> None:
    if os.getppid() != coordinator:  # the coordinator died while this process started
        os._exit(0)
    return_big_blocks()
    threading.Thread(target=_exit_with, args=(coordinator,), daemon=True).start()
    # Ctrl-C and SIGTERM are the coordinator's to handle: it commits what is done, then ends us.
    # They were blocked since before this process started (TransformPool): a Ctrl-C during
    # its start-up waited, and is dropped now instead of a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    outbox: queue.Queue[BatchResult | WorkerError | None] = queue.Queue(maxsize=1)
    sender = threading.Thread(target=_send_results, args=(outbox, results), daemon=True)
    sender.start()
    try:
        compiled = contract.compile()
    except XmlMigrateError as exc:  # the coordinator reports it; no traceback here
        outbox.put(WorkerError(str(exc), exc.exit_code))
        outbox.put(None)
        sender.join()
        results.close()
        return
    while True:
        task = tasks.get()
        if task is None:
            outbox.put(None)
            sender.join()
            results.close()
            return
        seq, records = task
        try:
            out, times = transform_batch(records, compiled, options)
        except MemoryError:  # the coordinator reports it in one line; no traceback here
            os._exit(OUT_OF_MEMORY)
        outbox.put(BatchResult(seq, out, times, peak_rss_mb(), os.getpid()))
        # not held while the next batch arrives: measured, a worker's peak 110 → 80-94 MB
        # without return_big_blocks, 80 → 64 MB with it
        del task, records, out


class TransformPool:
    """N worker processes; submit batches, receive results (in completion order).

    Tasks go through one bounded queue shared by the workers. Results come back on one pipe
    per worker whose only writing end is in that worker: if the worker dies, even halfway
    through sending a batch, its pipe reads as closed (EOF) instead of blocking the
    coordinator on a message that will never be completed.
    """

    def __init__(
        self,
        workers: int,
        contract: ContractTexts,
        options: TransformOptions,
        depth: int,
    ) -> None:
        ctx = mp.get_context("spawn")
        self._tasks: mp.Queue[tuple[int, list[RawRecord]] | None] = ctx.Queue(maxsize=depth)
        self._procs: list[BaseProcess] = []
        self._pipes: dict[Connection, BaseProcess] = {}
        self._ready: deque[BatchResult] = deque()
        # a Ctrl-C while a worker starts (the terminal signals the whole process group) would
        # stop it mid-import with a traceback and read as a crash: the workers start with the
        # stop signals blocked (a spawned process keeps the mask) and ignore them once running;
        # here a Ctrl-C waits for the starts, then reaches the coordinator's handler
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            for i in range(workers):
                reader, writer = ctx.Pipe(duplex=False)
                proc = ctx.Process(
                    target=_worker_main,
                    args=(contract, options, self._tasks, writer, os.getpid()),
                    name=f"xmlmigrate-worker-{i}",
                    daemon=True,
                )
                proc.start()
                writer.close()  # the worker holds the only writing end now
                self._procs.append(proc)
                self._pipes[reader] = proc
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def submit(self, seq: int, records: list[RawRecord]) -> None:
        while True:
            try:
                self._tasks.put((seq, records), timeout=0.5)
                return
            except queue.Full:
                self._receive(0)
                self._check_alive()

    def get(self) -> BatchResult:
        """The next finished batch; raises WorkerCrashed if a worker died meanwhile."""
        while not self._ready:
            if not self._receive(0.5):
                self._check_alive()
        return self._ready.popleft()

    def drain(self, timeout: float) -> Iterator[BatchResult]:
        """Results still arriving from live workers, until none comes for ``timeout`` seconds."""
        while True:
            while self._ready:
                yield self._ready.popleft()
            if not self._receive(timeout):
                return

    def _receive(self, timeout: float) -> bool:
        """Read what the pipes hold within ``timeout``; False if nothing happened. A worker
        that could not start mapping raises its error here."""
        if not self._pipes:
            return False
        ready = wait(list(self._pipes), timeout)
        for conn in ready:
            assert isinstance(conn, Connection)
            try:
                item = conn.recv()
            except (EOFError, OSError):
                conn.close()
                self._pipes.pop(conn).join(timeout=5)  # gone: its exit code tells how
                continue
            if isinstance(item, WorkerError):
                error = XmlMigrateError(item.message)
                error.exit_code = item.exit_code
                raise error
            self._ready.append(item)
        return bool(ready)

    def _check_alive(self) -> None:
        for proc in self._procs:
            if not proc.is_alive() and proc.exitcode != 0:
                why = {
                    OUT_OF_MEMORY: " (out of memory)",
                    -signal.SIGKILL: " (killed: by the kernel's out-of-memory killer?)",
                }.get(proc.exitcode or 0, "")
                raise WorkerCrashed(
                    f"worker {proc.name} (pid {proc.pid}) died with exit code "
                    f"{proc.exitcode}{why}; its batches stay pending for the next run"
                )

    def close(self, force: bool = False) -> None:
        if not force:
            for _ in self._procs:
                try:
                    self._tasks.put(None, timeout=1)
                except queue.Full:
                    force = True
                    break
        for proc in self._procs:
            if force and proc.is_alive():
                proc.kill()  # workers ignore SIGTERM; they hold nothing that must be saved
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for conn in self._pipes:
            conn.close()
        self._pipes.clear()
        self._tasks.cancel_join_thread()
        self._tasks.close()

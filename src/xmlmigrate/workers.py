"""Transform worker processes: batches of raw records in, mapped batches out.

Workers are started with the ``spawn`` method (safe with threads, database drivers and
macOS/Windows alike) and compile the contract once each. Queues are plain
``multiprocessing`` queues, bounded so the reader can never run ahead of the workers by more
than a few batches (back-pressure, bounded memory); there is no ``Manager`` process on the hot
path. A worker that dies is detected and reported; its batch is never logged.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import resource
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from xmlmigrate.contract import load_contract
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.transform import transform_record

STAGES = ("parse", "validate", "map")


@dataclass(frozen=True, slots=True)
class TransformOptions:
    scoped: bool = True
    check_well_formed: bool = True


@dataclass(slots=True)
class BatchResult:
    seq: int
    results: list[MappedApp | Rejection]
    times: dict[str, float]
    peak_rss_mb: float = 0.0  # of the process that transformed the batch


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class WorkerCrashed(RuntimeError):
    """A worker process died; the batches it held were not transformed."""


def transform_batch(
    records: list[RawRecord], contract: Any, options: TransformOptions
) -> tuple[list[MappedApp | Rejection], dict[str, float]]:
    times = dict.fromkeys(STAGES, 0.0)
    results = [
        transform_record(
            r, contract, times, scoped=options.scoped, check_well_formed=options.check_well_formed
        )
        for r in records
    ]
    return results, times


def _worker_main(
    contract_path: str | None,
    options: TransformOptions,
    tasks: mp.Queue[tuple[int, list[RawRecord]] | None],
    results: mp.Queue[BatchResult],
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    contract = load_contract(contract_path)
    crash_on = os.environ.get("XMLMIGRATE_TEST_CRASH_ON_APP")  # test hook: die on this app
    while True:
        task = tasks.get()
        if task is None:
            return
        seq, records = task
        if crash_on and any(str(r.app_id) == crash_on for r in records):
            os._exit(70)
        out, times = transform_batch(records, contract, options)
        results.put(BatchResult(seq, out, times, peak_rss_mb()))


class TransformPool:
    """N worker processes; submit batches, receive results (in completion order)."""

    def __init__(
        self, workers: int, contract_path: Path | None, options: TransformOptions, depth: int
    ) -> None:
        ctx = mp.get_context("spawn")
        self._tasks: mp.Queue[tuple[int, list[RawRecord]] | None] = ctx.Queue(maxsize=depth)
        self._results: mp.Queue[BatchResult] = ctx.Queue()
        path = str(contract_path) if contract_path is not None else None
        self._procs: list[BaseProcess] = [
            ctx.Process(
                target=_worker_main,
                args=(path, options, self._tasks, self._results),
                name=f"xmlmigrate-worker-{i}",
                daemon=True,
            )
            for i in range(workers)
        ]
        for p in self._procs:
            p.start()

    def submit(self, seq: int, records: list[RawRecord]) -> None:
        while True:
            try:
                self._tasks.put((seq, records), timeout=0.5)
                return
            except queue.Full:
                self._check_alive()

    def get(self) -> BatchResult:
        """The next finished batch; raises WorkerCrashed if a worker died meanwhile."""
        while True:
            try:
                return self._results.get(timeout=0.5)
            except queue.Empty:
                self._check_alive()

    def drain(self, timeout: float) -> Iterator[BatchResult]:
        """Results still arriving from live workers, until none comes for ``timeout`` seconds."""
        while True:
            try:
                yield self._results.get(timeout=timeout)
            except queue.Empty:
                return

    def _check_alive(self) -> None:
        for p in self._procs:
            if not p.is_alive() and p.exitcode not in (0, None):
                raise WorkerCrashed(
                    f"worker {p.name} (pid {p.pid}) died with exit code {p.exitcode}"
                )

    def close(self, force: bool = False) -> None:
        if not force:
            for _ in self._procs:
                try:
                    self._tasks.put(None, timeout=1)
                except queue.Full:
                    force = True
                    break
        for p in self._procs:
            if force and p.is_alive():
                p.terminate()
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        self._tasks.cancel_join_thread()
        self._results.cancel_join_thread()

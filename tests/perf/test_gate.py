"""The CI gate's subset (``-m gate``): what ``xmlmigrate perf gate`` times on base and head.

Each test records per-round wall time, CPU time (this process, its workers, the PostgreSQL
backends) and run-queue wait through ``xmlmigrate.bench.probe.measured``, plus counters that
must not change unless the work changed (records, rows, statements, transactions).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from xmlmigrate.bench.probe import measured
from xmlmigrate.config import MigrationConfig
from xmlmigrate.model import MappedApp, RawRecord, RunStats
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.run.transform import transform_record
from xmlmigrate.testing.plugin import PerfSource, run_counters

pytestmark = pytest.mark.gate


@pytest.mark.benchmark(group="gate")
def test_gate_transform(
    benchmark: BenchmarkFixture, perf_source: PerfSource, perf_rounds: int
) -> None:
    records = [RawRecord(d.app_id, d.xml.encode("utf-8")) for d in perf_source.docs]
    contract = perf_source.contract

    def run() -> int:
        return sum(isinstance(transform_record(r, contract), MappedApp) for r in records)

    mapped = measured(benchmark, run, rounds=perf_rounds, counters=lambda n: {"mapped": n})
    assert mapped == perf_source.records


@pytest.mark.benchmark(group="gate")
def test_gate_end_to_end(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    clean_target: Callable[[], None],
    perf_rounds: int,
) -> None:
    """In one process (workers = 0): what the code costs, not how the OS schedules workers
    (the worker sweep in tests/perf/test_sweep.py covers that)."""
    # pages of 100 documents, cut by count as at the gate's reference (whose default page
    # bytes were 256 MiB): the gate compares what the code costs for the same batches
    config = MigrationConfig(
        db_url=perf_source.db_url, workers=0, batch_size=100, max_batch_bytes=256 * 2**20
    )

    def run() -> RunStats:
        return run_migration(config, perf_source.contract)

    stats = measured(benchmark, run, rounds=perf_rounds, setup=clean_target, counters=run_counters)
    assert stats.success == perf_source.records

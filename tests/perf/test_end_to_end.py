"""End-to-end throughput: app_xml → committed rows, every round on an empty target."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from xmlmigrate.bench.probe import measured
from xmlmigrate.config import MigrationConfig
from xmlmigrate.mock import default_generator
from xmlmigrate.model import RunStats
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.testing.plugin import PerfSource, count_target_rows, record_run, run_counters


@pytest.mark.benchmark(group="end-to-end")
def test_full_run(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    clean_target: Callable[[], None],
    perf_rounds: int,
) -> None:
    config = MigrationConfig(db_url=perf_source.db_url, batch_size=200)
    last: list[RunStats] = []

    def run() -> RunStats:
        stats = run_migration(config, perf_source.contract)
        last.append(stats)
        return stats

    stats = measured(
        benchmark, run, rounds=perf_rounds, setup=clean_target, counters=run_counters, warmup=0
    )
    assert stats.success == perf_source.records
    rows = sum(stats.rows_per_table.values())
    median = benchmark.stats.stats.median
    assert count_target_rows(perf_source) == rows + perf_source.records  # + one log row each
    record_run(benchmark, perf_source, stats, mb=round(perf_source.total_bytes / 1e6, 1))
    print(
        f"\nend-to-end: {perf_source.records} docs ({perf_source.total_bytes / 1e6:.1f} MB), "
        f"median {median:.3f} s over {perf_rounds} rounds = "
        f"{perf_source.records / median * 60:,.0f} rec/min; stage split of the last round: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in stats.stage_seconds.items())
    )


@pytest.mark.benchmark(group="generator")
def test_generator_throughput(benchmark: BenchmarkFixture) -> None:
    """MB/s of realistic XML the mock generator renders (target: >= 50 MB/s)."""
    gen = default_generator(seed=99)

    def render() -> int:
        return sum(len(d.xml) for d in gen.generate(100))

    started = time.perf_counter()
    chars = measured(benchmark, render, rounds=3, counters=lambda n: {"chars": n})
    assert chars > 100 * 7_000
    median = benchmark.stats.stats.median
    benchmark.extra_info["mb_per_s"] = round(chars / median / 1e6, 1)
    print(
        f"\ngenerator: {chars / 1e6:.1f} MB per 100 docs, {chars / median / 1e6:,.0f} MB/s "
        f"(median of 3; {time.perf_counter() - started:.1f} s in all)"
    )

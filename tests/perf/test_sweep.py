"""Sweeps of the tuning knobs, grouped so --benchmark-group-by=group puts each side by side.

Every round starts from an empty target (checked); extra_info carries rec/min, records, rows
and transactions (statements to the database, one per batch plus bisections).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from pytest_benchmark.fixture import BenchmarkFixture

from xmlmigrate.bench import knobs
from xmlmigrate.bench.probe import measured
from xmlmigrate.config import MigrationConfig
from xmlmigrate.model import RunStats
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.testing.plugin import PerfSource, record_run, run_counters

BATCH_SIZES = (50, 100, 200, 500, 1000, 2000)
# this sweep is of batch sizes by count: pages are not cut by bytes first (at the default 16 MiB
# a page of realistic documents ends near 64 of them, whatever the batch size)
BY_COUNT = 2**30
FLAGS = ("pooling", "pipelined", "dedup_cache")


def _measure(
    benchmark: BenchmarkFixture,
    source: PerfSource,
    reset: Callable[[], None],
    rounds: int,
    **knobs: Any,
) -> RunStats:
    config = MigrationConfig(db_url=source.db_url, **knobs)
    stats: RunStats = measured(
        benchmark,
        lambda: run_migration(config, source.contract),
        rounds=rounds,
        setup=reset,
        counters=run_counters,
        warmup=0,
    )
    assert stats.success + stats.rejected + stats.failed == source.records
    record_run(benchmark, source, stats, knobs=dict(knobs))
    return stats


@pytest.mark.parametrize("flag", [None, *FLAGS], ids=["all on", *(f"no {f}" for f in FLAGS)])
@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.benchmark(group="sweep: batch size x feature flags (2 workers)")
def test_batch_size_and_flags(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    clean_target: Callable[[], None],
    perf_rounds: int,
    batch_size: int,
    flag: str | None,
) -> None:
    knobs: dict[str, Any] = {"workers": 2, "batch_size": batch_size, "max_batch_bytes": BY_COUNT}
    if flag is not None:
        knobs[flag] = False
    stats = _measure(benchmark, perf_source, clean_target, perf_rounds, **knobs)
    batches = -(-perf_source.records // batch_size)
    assert stats.transactions == batches  # the corpus has no duplicates: no bisections
    assert stats.connections_opened == (batches if flag == "pooling" else 1)


@pytest.mark.parametrize("workers", [0, 1, 2])
@pytest.mark.benchmark(group="sweep: workers (batch 100)")
def test_workers(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    clean_target: Callable[[], None],
    perf_rounds: int,
    workers: int,
) -> None:
    stats = _measure(
        benchmark, perf_source, clean_target, perf_rounds, workers=workers, batch_size=100
    )
    batches = -(-perf_source.records // 100)
    assert stats.workers == min(workers, batches)  # never more workers than batches


@pytest.mark.parametrize(("workers", "threads"), [(0, 1), (0, 2), (2, 1), (2, 2)])
@pytest.mark.benchmark(group="sweep: transform threads x workers (batch 100)")
def test_threads(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    clean_target: Callable[[], None],
    perf_rounds: int,
    workers: int,
    threads: int,
) -> None:
    """Threads transforming side by side in each process: libxml2 parses without the GIL
    while another thread maps (in the main process with 0 workers)."""
    stats = _measure(
        benchmark,
        perf_source,
        clean_target,
        perf_rounds,
        workers=workers,
        threads=threads,
        batch_size=100,
    )
    assert stats.threads == threads


@pytest.mark.benchmark(group="knob effects (interleaved)")
def test_knob_effects(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    clean_target: Callable[[], None],
    perf_rounds: int,
) -> None:
    """Every knob against the default in the same rounds (shuffled order): the effect with a
    95 % interval, so "pooling saves X % ± Y" is a measured claim. ``xmlmigrate perf report``
    prints the table from this benchmark's extra_info."""
    rounds = max(6, 2 * perf_rounds)  # the fewest for which a 95 % signed-rank interval exists

    def run(knobs: dict[str, Any]) -> None:
        stats = run_migration(
            MigrationConfig(db_url=perf_source.db_url, **knobs), perf_source.contract
        )
        assert stats.success + stats.rejected == perf_source.records, knobs

    mean = perf_source.total_bytes / max(1, perf_source.records)
    variants, not_compared = knobs.for_records(knobs.VARIANTS, perf_source.records, mean)
    times: dict[str, list[float]] = benchmark.pedantic(
        lambda: knobs.measure(run, clean_target, rounds, variants), rounds=1, warmup_rounds=0
    )
    result = knobs.as_json(times, variants, not_compared)
    benchmark.extra_info.update(
        knob_effects=result,
        records=perf_source.records,
        profile=perf_source.profile,
        database=sa.engine.make_url(perf_source.db_url).drivername,
    )
    assert all(len(t) == rounds for t in times.values())
    lines = [f"{e['name']:>16}: {e['claim']} → {e['verdict']}" for e in result["effects"]]
    print(f"\nknob effects on throughput vs the default ({rounds} interleaved rounds):")
    print("\n".join(lines))
    for name, why in not_compared.items():
        print(f"{name:>16}: {why}")
    print(result["best_batch_size"])


@pytest.mark.benchmark(group="cluster mode (interleaved)")
def test_cluster_vs_workers(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    clean_target: Callable[[], None],
    perf_rounds: int,
) -> None:
    """``run --cluster local:2`` against ``--workers 2`` on the same corpus, in interleaved
    rounds (cluster start included): the overhead of running on Dask, with a 95 % interval.
    A server target only (``--db-url``): the cluster refuses SQLite."""
    pytest.importorskip("distributed", reason="pip install 'xmlmigrate[dask]'")
    if sa.engine.make_url(perf_source.db_url).get_backend_name() == "sqlite":
        pytest.skip("cluster mode needs a server database: pass --db-url")
    from xmlmigrate.run.cluster import parse_cluster, run_on_cluster

    rounds = max(6, perf_rounds)
    task_rates: list[float] = []  # rec/min of each partition task, in its own time

    def run(config: dict[str, Any]) -> None:
        knobs_only = {k: v for k, v in config.items() if k != "cluster"}
        cluster = config.get("cluster")
        migration = MigrationConfig(db_url=perf_source.db_url, **knobs_only)
        if cluster is None:
            stats = run_migration(migration, perf_source.contract)
            assert stats.success + stats.rejected == perf_source.records
            return
        cstats = run_on_cluster(migration, parse_cluster(cluster))
        assert cstats.success + cstats.rejected == perf_source.records
        task_rates.extend(p["records"] / p["elapsed"] * 60 for p in cstats.parts)

    # the default (--workers 2, batch 100) and the cluster in a shuffled order every round
    times = benchmark.pedantic(
        lambda: knobs.measure(run, clean_target, rounds, {"cluster": {"cluster": "local:2"}}),
        rounds=1,
        warmup_rounds=0,
    )
    [effect] = knobs.effects(times, {})
    labels = {"default": "workers 2", "cluster": "cluster local:2"}
    rates = {labels[n]: perf_source.records / statistics.median(t) * 60 for n, t in times.items()}
    assert len(task_rates) >= rounds  # every round ran the cluster
    task_rate = statistics.median(task_rates)
    benchmark.extra_info.update(
        times=times,
        overhead=round(effect.ratio - 1, 4),
        interval=[effect.low, effect.high],
        rec_per_min={name: round(r) for name, r in rates.items()},
        task_rec_per_min=round(task_rate),
    )
    print(
        f"\ncluster local:2 vs --workers 2 ({perf_source.records} documents, {rounds} "
        f"interleaved rounds): time ratio {effect.ratio:.3f}"
        + (f" ({effect.low:.3f} … {effect.high:.3f}, 95 %)" if effect.low and effect.high else "")
        + "; median rec/min "
        + ", ".join(f"{name} {r:,.0f}" for name, r in rates.items())
        + f"; one partition task (one Dask worker) {task_rate:,.0f} rec/min in its own time"
    )

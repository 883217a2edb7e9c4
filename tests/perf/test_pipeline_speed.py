"""Whole-pipeline speed against the hardware's reference on the same documents.

The reference is reading the documents from app_xml and parsing each with lxml alone, in
one process (what any tool has to pay at least). The pipeline runs with the given workers on
an emptied target. Printed: both rates, their ratio, and the rate of the first and last tenth
of the run (no decay). Sized by --perf-records / --perf-profile / --db-url; the issue's figures
use 20,000 realistic documents on PostgreSQL (see README).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from lxml import etree
from pytest_benchmark.fixture import BenchmarkFixture

from xmlmigrate.config import MigrationConfig
from xmlmigrate.model import RunStats
from xmlmigrate.pipeline import run_migration
from xmlmigrate.sources import TableSource

from .conftest import PerfSource

WORKERS = int(os.environ.get("XMLMIGRATE_PERF_WORKERS", str(os.cpu_count() or 1)))


def parse_only_rate(source: PerfSource) -> float:
    """Documents per second: read every document from app_xml, lxml-parse it, nothing else."""
    reader = TableSource(source.engine, source.schema, MigrationConfig(batch_size=200))
    started = time.perf_counter()
    n = 0
    for page in reader.pages():
        for record in page:
            data = record.xml if isinstance(record.xml, bytes) else record.xml.encode("utf-8")
            etree.fromstring(data)
            n += 1
    return n / (time.perf_counter() - started)


@pytest.mark.parametrize("check", [True, False], ids=["checked", "unchecked"])
@pytest.mark.benchmark(group="pipeline vs parse-only")
def test_pipeline_against_parse_only(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    clean_target: Callable[[], None],
    check: bool,
) -> None:
    clean_target()
    reference = parse_only_rate(perf_source)
    marks: list[tuple[float, int]] = []

    def progress(stats: RunStats, done: int) -> None:
        marks.append((time.perf_counter(), done))

    config = MigrationConfig(
        db_url=perf_source.db_url, workers=WORKERS, check_well_formed=check, batch_size=200
    )

    def run() -> RunStats:
        marks.clear()
        marks.append((time.perf_counter(), 0))
        return run_migration(config, perf_source.contract, on_batch=progress)

    stats = benchmark.pedantic(run, setup=clean_target, rounds=1, warmup_rounds=0)
    assert stats.success + stats.rejected + stats.failed == perf_source.records
    rate = perf_source.records / benchmark.stats.stats.median
    tenth = max(1, perf_source.records // 10)

    def rate_between(lo: int, hi: int) -> float:
        t0 = next(t for t, d in reversed(marks) if d <= lo)
        t1 = next(t for t, d in marks if d >= hi)
        d0 = next(d for t, d in reversed(marks) if d <= lo)
        d1 = next(d for t, d in marks if d >= hi)
        return (d1 - d0) / (t1 - t0)

    first = rate_between(0, tenth)
    last = rate_between(perf_source.records - tenth, perf_source.records)
    benchmark.extra_info.update(
        records=perf_source.records,
        workers=WORKERS,
        check_well_formed=check,
        rec_per_min=round(rate * 60),
        parse_only_rec_per_min=round(reference * 60),
        ratio_to_parse_only=round(rate / reference, 2),
        first_tenth_rec_per_min=round(first * 60),
        last_tenth_rec_per_min=round(last * 60),
    )
    print(
        f"\npipeline [{WORKERS} workers, well-formedness check {'on' if check else 'OFF'}]: "
        f"{rate * 60:,.0f} rec/min on {perf_source.records:,} documents "
        f"({perf_source.total_bytes / 1e6:,.0f} MB); lxml parse-only in one process "
        f"{reference * 60:,.0f} rec/min; ratio {rate / reference:.2f}; first tenth "
        f"{first * 60:,.0f} rec/min, last tenth {last * 60:,.0f} rec/min "
        f"({last / first:.2f}x); stages: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in stats.stage_seconds.items())
    )

"""The transform alone (decode+parse, validate, map) against lxml parsing alone, same documents.

Both run in this one process, interleaved round by round (A B A B ...) so machine noise hits
both sides alike; the figure is the median of the per-round rate ratios. Target: the transform
runs at >= 0.8x the parse-only rate (mapping costs at most a quarter on top of parsing).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from lxml import etree
from pytest_benchmark.fixture import BenchmarkFixture

from xmlmigrate.bench.probe import measured
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record
from xmlmigrate.testing.plugin import PerfSource

ROUNDS = 7


def _parse_only(docs: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        n = 0
        for d in docs:
            n += len(etree.fromstring(d))
        return n

    return run


def _transform(source: PerfSource, docs: list[bytes], **options: bool) -> Callable[[], int]:
    records = [RawRecord(doc.app_id, data) for doc, data in zip(source.docs, docs, strict=True)]
    contract = source.contract

    def run() -> int:
        ok = 0
        for rec in records:
            ok += isinstance(transform_record(rec, contract, **options), MappedApp)
        return ok

    return run


@pytest.fixture(scope="module")
def doc_bytes(perf_source: PerfSource) -> list[bytes]:
    return [d.xml.encode("utf-8") for d in perf_source.docs]


def _paired_ratio(
    reference: Callable[[], int], candidate: Callable[[], int]
) -> tuple[float, list[float]]:
    ratios = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        reference()
        t1 = time.perf_counter()
        candidate()
        t2 = time.perf_counter()
        ratios.append((t1 - t0) / (t2 - t1))  # candidate rate / reference rate
    return statistics.median(ratios), ratios


def record_ratio(
    benchmark: BenchmarkFixture,
    docs: int,
    pairs: tuple[float, list[float]],
    label: str,
    reference: str,
    target: float,
) -> None:
    """The candidate's rate and its rate ratio to ``reference`` (median of the interleaved
    pairs): stored with the benchmark and printed."""
    ratio, ratios = pairs
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        docs_per_s=round(docs / median),
        **{f"ratio_to_{reference.replace(' ', '_')}": round(ratio, 3)},
        ratios=[round(r, 3) for r in ratios],
    )
    print(
        f"\n{label}: {docs / median:,.0f} docs/s; rate ratio to {reference} (median of "
        f"{ROUNDS} interleaved pairs): {ratio:.2f} (target >= {target:.2f}; pairs "
        f"{', '.join(f'{r:.2f}' for r in ratios)})"
    )


@pytest.mark.benchmark(group="transform")
def test_parse_only_reference(
    benchmark: BenchmarkFixture, perf_source: PerfSource, doc_bytes: list[bytes]
) -> None:
    count = measured(
        benchmark, _parse_only(doc_bytes), rounds=ROUNDS, counters=lambda n: {"elements": n}
    )
    assert count > 0
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        docs_per_s=round(len(doc_bytes) / median),
        mb_per_s=round(perf_source.total_bytes / median / 1e6, 1),
    )


@pytest.mark.parametrize(
    ("label", "options"),
    [
        ("scoped", {"scoped": True, "check_well_formed": True}),
        ("full-document", {"scoped": False}),
        ("scoped-unchecked", {"scoped": True, "check_well_formed": False}),
    ],
)
@pytest.mark.benchmark(group="transform")
def test_transform_vs_parse_only(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    doc_bytes: list[bytes],
    label: str,
    options: dict[str, bool],
) -> None:
    candidate = _transform(perf_source, doc_bytes, **options)
    ok = measured(benchmark, candidate, rounds=ROUNDS, counters=lambda n: {"mapped": n})
    assert ok == perf_source.records  # every generated document migrates
    pairs = _paired_ratio(_parse_only(doc_bytes), candidate)
    record_ratio(benchmark, len(doc_bytes), pairs, f"transform [{label}]", "parse only", 0.8)

"""Stage micro-benchmarks on the perf corpus: decode+parse, validate and map, each alone.

Group "stages" sets them side by side with the same documents, so a change to one stage shows
in its own line; the parse-only reference is in tests/perf/test_transform.py.
"""

from __future__ import annotations

import pytest
from lxml import etree
from pytest_benchmark.fixture import BenchmarkFixture

from xmlmigrate.bench.probe import measured
from xmlmigrate.model import MappedApp
from xmlmigrate.stages.mapping import map_application
from xmlmigrate.stages.validate import ValidDocument, validate_document
from xmlmigrate.stages.xml import parse_document
from xmlmigrate.testing.plugin import PerfSource


@pytest.fixture(scope="module")
def documents(perf_source: PerfSource) -> list[tuple[int, bytes]]:
    return [(d.app_id, d.xml.encode("utf-8")) for d in perf_source.docs]


@pytest.fixture(scope="module")
def roots(
    perf_source: PerfSource, documents: list[tuple[int, bytes]]
) -> list[tuple[int, etree._Element]]:
    scope = perf_source.contract.scope
    return [(app_id, parse_document(data, scope=scope).root) for app_id, data in documents]


def _record(benchmark: BenchmarkFixture, n: int, source: PerfSource) -> None:
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        documents=n,
        docs_per_s=round(n / median),
        records=source.records,
        profile=source.profile,
        database="no database (in memory)",
    )


@pytest.mark.benchmark(group="stages")
def test_stage_parse(
    benchmark: BenchmarkFixture, perf_source: PerfSource, documents: list[tuple[int, bytes]]
) -> None:
    scope = perf_source.contract.scope

    def run() -> int:
        return sum(len(parse_document(data, scope=scope).root) for _, data in documents)

    assert measured(benchmark, run, rounds=5, counters=lambda n: {"count": n}) >= len(documents)
    _record(benchmark, len(documents), perf_source)


@pytest.mark.benchmark(group="stages")
def test_stage_validate(
    benchmark: BenchmarkFixture, perf_source: PerfSource, roots: list[tuple[int, etree._Element]]
) -> None:
    contract = perf_source.contract

    def run() -> int:
        return sum(
            isinstance(validate_document(root, contract, app_id), ValidDocument)
            for app_id, root in roots
        )

    assert measured(benchmark, run, rounds=5, counters=lambda n: {"count": n}) == len(roots)
    _record(benchmark, len(roots), perf_source)


@pytest.mark.benchmark(group="stages")
def test_stage_map(
    benchmark: BenchmarkFixture, perf_source: PerfSource, roots: list[tuple[int, etree._Element]]
) -> None:
    contract = perf_source.contract
    valid = [validate_document(root, contract, app_id) for app_id, root in roots]
    apps = [(v.app_id, v.application) for v in valid if isinstance(v, ValidDocument)]

    def run() -> int:
        return sum(
            isinstance(map_application(app_id, el, contract), MappedApp) for app_id, el in apps
        )

    assert measured(benchmark, run, rounds=5, counters=lambda n: {"count": n}) == len(apps)
    _record(benchmark, len(apps), perf_source)

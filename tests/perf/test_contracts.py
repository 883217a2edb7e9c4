"""Contracts other than the shipped credit-card one, timed against their references in the
same process, interleaved round by round (the figure: the median of the per-round rate ratios):

* a credit-card contract *imported* from the predecessor's JSON
  (tests/fixtures/contracts/predecessor_cc.json, written from the engine's feature contract
  tests/fixtures/contracts/engine_cc.toml) against that contract, on the same documents —
  target: >= 0.9x its rate;
* rec-lending documents (generated from the shipped ``provenir_rl``) transformed against lxml
  parsing alone of the same documents — target: >= 0.8x the parse-only rate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from tests.contracts import engine_contract

from xmlmigrate.bench.probe import measured
from xmlmigrate.contract import CompiledContract, compile_contract, load_contract
from xmlmigrate.contract.import_ import import_contract
from xmlmigrate.mock import ContractGenerator, GeneratedDoc
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record

from .test_transform import ROUNDS, _paired_ratio, _parse_only, record_ratio

PREDECESSOR_CC = (
    Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "predecessor_cc.json"
)


def _transform(docs: list[GeneratedDoc], contract: CompiledContract) -> Callable[[], int]:
    records = [RawRecord(d.app_id, d.xml.encode("utf-8")) for d in docs]

    def run() -> int:
        return sum(isinstance(transform_record(r, contract), MappedApp) for r in records)

    return run


@pytest.fixture(scope="module")
def rl_docs(request: pytest.FixtureRequest, perf_corpus: list[GeneratedDoc]) -> list[GeneratedDoc]:
    """As many rec-lending documents as the credit-card corpus has, same size profile."""
    seed = int(request.config.getoption("--perf-seed"))
    profile = str(request.config.getoption("--perf-profile"))
    generator = ContractGenerator(load_contract("provenir_rl"), seed, profile)
    return list(generator.generate(len(perf_corpus)))


@pytest.fixture(scope="module")
def engine_docs(
    request: pytest.FixtureRequest, perf_corpus: list[GeneratedDoc]
) -> list[GeneratedDoc]:
    """As many documents for the engine's feature contract as the corpus has."""
    seed = int(request.config.getoption("--perf-seed"))
    profile = str(request.config.getoption("--perf-profile"))
    generator = ContractGenerator(engine_contract(), seed, profile)
    return list(generator.generate(len(perf_corpus)))


@pytest.mark.benchmark(group="contracts")
def test_imported_cc_vs_written_cc(
    benchmark: BenchmarkFixture, engine_docs: list[GeneratedDoc]
) -> None:
    imported = compile_contract(import_contract(PREDECESSOR_CC).toml, "predecessor_cc.toml")
    candidate = _transform(engine_docs, imported)
    ok = measured(benchmark, candidate, rounds=ROUNDS, counters=lambda n: {"mapped": n})
    # every document migrates with the imported contract too, but for the few with a blank
    # name (real documents have them) that the written contract defaults and it rejects
    assert ok >= 0.95 * len(engine_docs)
    pairs = _paired_ratio(_transform(engine_docs, engine_contract()), candidate)
    record_ratio(benchmark, len(engine_docs), pairs, "imported CC contract", "written", 0.9)


@pytest.mark.benchmark(group="contracts")
def test_rl_transform_vs_parse_only(
    benchmark: BenchmarkFixture, rl_docs: list[GeneratedDoc]
) -> None:
    rl = load_contract("provenir_rl")
    candidate = _transform(rl_docs, rl)
    ok = measured(benchmark, candidate, rounds=ROUNDS, counters=lambda n: {"mapped": n})
    assert ok == len(rl_docs)
    data = [d.xml.encode("utf-8") for d in rl_docs]
    pairs = _paired_ratio(_parse_only(data), candidate)
    record_ratio(benchmark, len(rl_docs), pairs, "RL transform", "parse only", 0.8)

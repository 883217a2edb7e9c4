"""Perf-suite fixtures: one corpus per session, a clean target before every timed round.

Run with ``pytest -p no:xdist tests/perf``: pytest-benchmark turns itself off
under xdist, so the suite refuses to run there rather than pass silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from xmlmigrate.contract import CompiledContract, load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.ledger import reset_target
from xmlmigrate.mock import GeneratedDoc, MockGenerator, insert_documents
from xmlmigrate.schema import Schema, build_schema

TEST_DB_ENV = "XMLMIGRATE_TEST_DB_URL"


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "numprocesses", None) or os.environ.get("PYTEST_XDIST_WORKER"):
        raise pytest.UsageError(
            "tests/perf must not run under pytest-xdist (pytest-benchmark disables itself and "
            "every comparison would pass): use 'pytest -p no:xdist tests/perf'"
        )


@dataclass(frozen=True)
class PerfSource:
    """The loaded corpus: where it is and what was generated."""

    db_url: str
    engine: sa.Engine
    schema: Schema
    contract: CompiledContract
    docs: list[GeneratedDoc]
    total_bytes: int

    @property
    def records(self) -> int:
        return len(self.docs)


@pytest.fixture(scope="session")
def perf_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = request.config.getoption("--db-url") or os.environ.get(TEST_DB_ENV)
    if url:
        return str(url)
    return f"sqlite:///{tmp_path_factory.mktemp('perf') / 'perf.db'}"


@pytest.fixture(scope="session")
def perf_corpus(request: pytest.FixtureRequest) -> list[GeneratedDoc]:
    n = int(request.config.getoption("--perf-records"))
    seed = int(request.config.getoption("--perf-seed"))
    profile = str(request.config.getoption("--perf-profile"))
    return list(MockGenerator(seed=seed, size_profile=profile).generate(n))


@pytest.fixture(scope="session")
def perf_source(perf_db_url: str, perf_corpus: list[GeneratedDoc]) -> Iterator[PerfSource]:
    """The target recreated from scratch and ``app_xml`` loaded with the corpus, once."""
    contract = load_contract()
    schema = build_schema(contract)
    engine = make_engine(perf_db_url)
    schema.metadata.drop_all(engine, checkfirst=True)
    schema.create(engine)
    _, size = insert_documents(engine, schema, perf_corpus)
    yield PerfSource(perf_db_url, engine, schema, contract, perf_corpus, size)
    engine.dispose()


def count_target_rows(source: PerfSource) -> int:
    with source.engine.connect() as conn:
        return sum(
            int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (*source.schema.targets, source.schema.log)
        )


@pytest.fixture
def clean_target(perf_source: PerfSource) -> Callable[[], None]:
    """A setup callable for ``benchmark.pedantic``: empty the target and prove it is empty."""

    def reset() -> None:
        reset_target(perf_source.engine, perf_source.schema)
        left = count_target_rows(perf_source)
        assert left == 0, f"target not empty before timing: {left} rows left"

    return reset


@pytest.fixture(scope="session")
def fixtures_path() -> Path:
    return Path(__file__).parent.parent / "fixtures"

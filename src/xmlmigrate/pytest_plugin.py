"""pytest plugin (entry point ``pytest11``): options and fixtures for performance suites.

Installed with xmlmigrate, so a user's own perf tests get the same fixtures as ours:

``perf_db_url``      the target: ``--db-url``, else ``$XMLMIGRATE_TEST_DB_URL``, else a
                     temporary SQLite file
``perf_corpus``      the generated documents (``--perf-records``, ``--perf-seed``,
                     ``--perf-profile``), once per session
``perf_source``      the target recreated and ``app_xml`` loaded with the corpus, once
``clean_target``     a ``benchmark.pedantic(setup=...)`` callable: empties the target
                     (cascade from the root table, the log) and asserts it is empty

Perf runs must not use pytest-xdist: pytest-benchmark disables itself there and every
comparison passes. ``perf_source`` refuses to start under xdist.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from xmlmigrate.contract import CompiledContract, load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.ledger import reset_target
from xmlmigrate.mock import GeneratedDoc, MockGenerator, insert_documents
from xmlmigrate.schema import Schema, build_schema

TEST_DB_ENV = "XMLMIGRATE_TEST_DB_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xmlmigrate")
    group.addoption(
        "--db-url",
        default=None,
        help=f"target database URL for perf tests (default: ${TEST_DB_ENV} or a temporary "
        "SQLite file)",
    )
    group.addoption(
        "--perf-records", type=int, default=200, help="documents in the perf corpus (default 200)"
    )
    group.addoption(
        "--perf-rounds", type=int, default=3, help="timed rounds per perf test (default 3)"
    )
    group.addoption("--perf-seed", type=int, default=20160125, help="seed of the perf corpus")
    group.addoption(
        "--perf-profile",
        default="realistic",
        choices=("small", "realistic", "large"),
        help="size profile of the perf corpus (default realistic)",
    )


def under_xdist(config: pytest.Config) -> bool:
    return bool(
        getattr(config.option, "numprocesses", None) or os.environ.get("PYTEST_XDIST_WORKER")
    )


XDIST_MESSAGE = (
    "performance tests must not run under pytest-xdist (pytest-benchmark disables itself and "
    "every comparison would pass): run them with 'pytest -p no:xdist ...'"
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


def count_target_rows(source: PerfSource) -> int:
    with source.engine.connect() as conn:
        return sum(
            int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (*source.schema.targets, source.schema.log)
        )


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
def perf_source(
    request: pytest.FixtureRequest, perf_db_url: str, perf_corpus: list[GeneratedDoc]
) -> Iterator[PerfSource]:
    """The target recreated from scratch and ``app_xml`` loaded with the corpus, once."""
    if under_xdist(request.config):
        raise pytest.UsageError(XDIST_MESSAGE)
    contract = load_contract()
    schema = build_schema(contract)
    engine = make_engine(perf_db_url)
    schema.metadata.drop_all(engine, checkfirst=True)
    schema.create(engine)
    _, size = insert_documents(engine, schema, perf_corpus)
    yield PerfSource(perf_db_url, engine, schema, contract, perf_corpus, size)
    engine.dispose()


@pytest.fixture
def clean_target(perf_source: PerfSource) -> Callable[[], None]:
    """A setup callable for ``benchmark.pedantic``: empty the target and prove it is empty."""

    def reset() -> None:
        reset_target(perf_source.engine, perf_source.schema)
        left = count_target_rows(perf_source)
        assert left == 0, f"target not empty before timing: {left} rows left"

    return reset

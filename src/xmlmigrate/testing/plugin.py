"""pytest plugin (entry point ``pytest11``): options and fixtures for performance suites.

Installed with xmlmigrate, so a user's own perf tests get the same fixtures as ours:

``perf_db_url``      the target: ``--db-url``, else ``$XMLMIGRATE_TEST_DB_URL``, else a
                     temporary SQLite file
``perf_corpus``      the generated documents (``--perf-records``, ``--perf-seed``,
                     ``--perf-profile``), once per session
``perf_source``      the target recreated and ``app_xml`` loaded with the corpus, once
``clean_target``     a ``benchmark.pedantic(setup=...)`` callable: empties the target
                     (cascade from the root table, the log) and asserts it is empty

The suite never destroys data it did not make: it marks every target it creates (a table
``xmlmigrate_perf_marker``) and refuses a target that holds rows in any table it would drop
without that mark, unless ``--perf-allow-reset`` is given.

Perf runs must not use pytest-xdist: pytest-benchmark disables itself there and every
comparison passes. ``perf_source`` refuses to start under xdist.

Tests that need an optional system library or a server call :func:`skip_or_fail`: a skip with
the reason on a developer's machine, a failure where ``XMLMIGRATE_REQUIRE_DB=1`` (CI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa

from xmlmigrate.bench.probe import ALLOW_RESET_ENV, INJECT_ENV
from xmlmigrate.contract import CompiledContract, load_contract
from xmlmigrate.db import make_engine, redact_url
from xmlmigrate.db.engine import DEFAULT_ODBC_DRIVERS
from xmlmigrate.db.factory import ODBC_INSTALL
from xmlmigrate.ledger import reset_target
from xmlmigrate.mock import GeneratedDoc, default_generator, insert_documents
from xmlmigrate.model import RunStats
from xmlmigrate.schema import Schema, build_schema
from xmlmigrate.testing import verdicts

TEST_DB_ENV = "XMLMIGRATE_TEST_DB_URL"
REQUIRE_ENV = "XMLMIGRATE_REQUIRE_DB"
MARKER_TABLE = "xmlmigrate_perf_marker"
ALLOW_RESET = "--perf-allow-reset"


def skip_or_fail(reason: str, module_level: bool = False) -> NoReturn:
    """Skip with ``reason``; fail instead where ``XMLMIGRATE_REQUIRE_DB=1`` (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(reason, allow_module_level=module_level)


def odbc_problem(backend: str | None = None) -> str | None:
    """Why ODBC (or ``backend``'s default driver) cannot be used here; None when it can."""
    try:
        import pyodbc
    except ImportError as exc:
        return f"ODBC is not available ({exc}): {ODBC_INSTALL}"
    driver = DEFAULT_ODBC_DRIVERS.get(backend or "")
    if driver and driver not in pyodbc.drivers():
        return f"ODBC driver {driver!r} is not installed (installed: {pyodbc.drivers()})"
    return None


def prepare_target(engine: sa.Engine, schema: Schema, allow_reset: bool) -> None:
    """Drop and recreate the schema's tables — only in a target this suite made (marked), or
    one whose tables hold no rows, or with ``allow_reset``; then mark it as the suite's."""
    existing = set(sa.inspect(engine).get_table_names())
    if MARKER_TABLE not in existing and not allow_reset:
        holding = []
        with engine.connect() as conn:
            for table in schema.metadata.sorted_tables:
                if table.name in existing:
                    n = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                    if n:
                        holding.append(f"{table.name} ({n:,} rows)")
        if holding:
            raise pytest.UsageError(
                f"{redact_url(engine.url)} holds data the perf suite did not create "
                f"({', '.join(holding)}); the suite drops and recreates these tables. Use an "
                f"empty database, or pass {ALLOW_RESET} to let it destroy them"
            )
    schema.metadata.drop_all(engine, checkfirst=True)
    schema.create(engine)
    marker = sa.Table(
        MARKER_TABLE, sa.MetaData(), sa.Column("created_at", sa.DateTime, nullable=False)
    )
    marker.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(sa.insert(marker), {"created_at": datetime.now()})


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
    group.addoption(
        ALLOW_RESET,
        action="store_true",
        default=False,
        help="let the perf suite drop and recreate tables holding data it did not create",
    )
    verdicts.add_options(group)


def pytest_configure(config: pytest.Config) -> None:
    """The perf verdicts (--perf-gate, --perf-fail-over) as a plugin of their own."""
    if config.getoption(verdicts.GATE, None) or config.getoption(verdicts.FAIL_OVER, None):
        config.pluginmanager.register(verdicts.PerfVerdicts(config), "xmlmigrate-perf-verdicts")
    elif config.getoption(verdicts.INJECT, 0.0):
        os.environ[INJECT_ENV] = str(float(config.getoption(verdicts.INJECT)) / 100)


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
    profile: str = ""

    @property
    def records(self) -> int:
        return len(self.docs)


def count_target_rows(source: PerfSource) -> int:
    with source.engine.connect() as conn:
        return sum(
            int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (*source.schema.targets, source.schema.log)
        )


def allow_reset(config: pytest.Config) -> bool:
    """``--perf-allow-reset``, or ``XMLMIGRATE_PERF_ALLOW_RESET=1`` (the perf gate's own
    side databases)."""
    return bool(config.getoption(ALLOW_RESET)) or os.environ.get(ALLOW_RESET_ENV) == "1"


def given_db_url(config: pytest.Config) -> str | None:
    """The target the user named (``--db-url`` or ``$XMLMIGRATE_TEST_DB_URL``), if any."""
    url = config.getoption("--db-url") or os.environ.get(TEST_DB_ENV)
    return str(url) if url else None


@pytest.fixture(scope="session")
def perf_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = given_db_url(request.config)
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('perf') / 'perf.db'}"


@pytest.fixture(scope="session")
def perf_corpus(request: pytest.FixtureRequest) -> list[GeneratedDoc]:
    n = int(request.config.getoption("--perf-records"))
    seed = int(request.config.getoption("--perf-seed"))
    profile = str(request.config.getoption("--perf-profile"))
    return list(default_generator(seed=seed, size_profile=profile).generate(n))


@pytest.fixture(scope="session")
def perf_source(
    request: pytest.FixtureRequest, perf_db_url: str, perf_corpus: list[GeneratedDoc]
) -> Iterator[PerfSource]:
    """The target recreated from scratch and ``app_xml`` loaded with the corpus, once."""
    if under_xdist(request.config):
        raise pytest.UsageError(XDIST_MESSAGE)
    if "+pyodbc" in perf_db_url and (problem := odbc_problem(perf_db_url.split("+")[0])):
        skip_or_fail(problem)
    contract = load_contract()
    schema = build_schema(contract)
    engine = make_engine(perf_db_url)
    prepare_target(engine, schema, allow_reset(request.config))
    _, size = insert_documents(engine, schema, perf_corpus)
    profile = str(request.config.getoption("--perf-profile"))
    yield PerfSource(perf_db_url, engine, schema, contract, perf_corpus, size, profile)
    engine.dispose()


@pytest.fixture(scope="session")
def perf_rounds(request: pytest.FixtureRequest) -> int:
    """``--perf-rounds``: timed rounds per perf test."""
    return int(request.config.getoption("--perf-rounds"))


def run_counters(stats: RunStats) -> dict[str, int]:
    """The exact counters of a migration round (what a comparison reports when they change)."""
    return {
        "records": stats.records,
        "success": stats.success,
        "rows": sum(stats.rows_per_table.values()),
        "transactions": stats.transactions,
        "statements": stats.statements,
        "source_queries": stats.source_queries,
        "connections": stats.connections_opened,
    }


def record_run(benchmark: Any, source: PerfSource, stats: RunStats, **extra: object) -> None:
    """Save with a migration benchmark's result what a reader needs beside its time
    (``benchmark.extra_info``): records, rows, transactions, connections, rec/min of the
    median round and the stage split."""
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        records=source.records,
        profile=source.profile,
        database=sa.engine.make_url(source.db_url).drivername,
        rows=sum(stats.rows_per_table.values()),
        transactions=stats.transactions,
        connections=stats.connections_opened,
        rec_per_min=round(source.records / median * 60),
        stage_seconds={k: round(v, 3) for k, v in stats.stage_seconds.items()},
        **extra,
    )


@pytest.fixture
def clean_target(perf_source: PerfSource) -> Callable[[], None]:
    """A setup callable for ``benchmark.pedantic``: empty the target and prove it is empty."""

    def reset() -> None:
        reset_target(perf_source.engine, perf_source.schema)
        left = count_target_rows(perf_source)
        assert left == 0, f"target not empty before timing: {left} rows left"

    return reset

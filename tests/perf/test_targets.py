"""Each target database: the loader alone (rows/s) on one mapped corpus, and end to end
(rec/min, one process). Every round starts from an empty target.

With ``--db-url`` (or ``$XMLMIGRATE_TEST_DB_URL``) only that target is measured, in the
database the user gave; without, a database ``xmlmigrate_perf`` on each local server. A
target whose server or ODBC driver is missing is skipped with the reason (CI fails)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pytest_benchmark.fixture import BenchmarkFixture

from xmlmigrate.bench.probe import measured
from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine, open_writer
from xmlmigrate.ledger import ledger_problems, log_rows, outcome_for, reset_target
from xmlmigrate.mock import insert_documents
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.run.transform import transform_record
from xmlmigrate.testing.plugin import (
    PerfSource,
    claim_target,
    given_db_url,
    keep_target,
    odbc_problem,
    release_target,
    run_counters,
    skip_or_fail,
)

PG = os.environ.get("XMLMIGRATE_TEST_PG", "postgres@127.0.0.1:5432")
MARIADB = os.environ.get("XMLMIGRATE_TEST_MARIADB", "root@127.0.0.1:3306")
TARGETS = {
    "sqlite": None,
    "postgresql+psycopg (COPY)": f"postgresql+psycopg://{PG}/xmlmigrate_perf",
    "postgresql+pyodbc": f"postgresql+pyodbc://{PG}/xmlmigrate_perf",
    "mysql+pyodbc (MariaDB)": f"mysql+pyodbc://{MARIADB}/xmlmigrate_perf",
}
BATCH = 200


def _prepare(url: str) -> None:
    if url.startswith("postgresql"):
        admin = sa.create_engine(
            f"postgresql+psycopg://{PG}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            if not conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = 'xmlmigrate_perf'")
            ).first():
                conn.execute(sa.text("CREATE DATABASE xmlmigrate_perf"))
        admin.dispose()
    elif url.startswith("mysql"):
        admin = make_engine(f"mysql+pyodbc://{MARIADB}/test")
        with admin.begin() as conn:
            conn.execute(
                sa.text("CREATE DATABASE IF NOT EXISTS xmlmigrate_perf CHARACTER SET utf8mb4")
            )
        admin.dispose()


GIVEN = "--db-url"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target_name" in metafunc.fixturenames:
        names = [GIVEN] if given_db_url(metafunc.config) else list(TARGETS)
        metafunc.parametrize("target_name", names, scope="module")


@pytest.fixture(scope="module")
def target(
    request: pytest.FixtureRequest,
    target_name: str,
    perf_source: PerfSource,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, sa.Engine]]:
    if target_name == GIVEN:  # the user's target: perf_source prepared and loaded it
        yield perf_source.db_url, perf_source.engine
        return
    url = TARGETS[target_name] or f"sqlite:///{tmp_path_factory.mktemp('t') / 'target.db'}"
    if "+pyodbc" in url and (problem := odbc_problem(url.split("+")[0])):
        skip_or_fail(f"{target_name}: {problem}")
    try:
        _prepare(url)
        engine = make_engine(url)
        engine.connect().close()
    except Exception as exc:
        skip_or_fail(f"{target_name} not reachable: {str(exc).splitlines()[0][:160]}")
    claim_target(engine, perf_source.schema, request.config)
    insert_documents(engine, perf_source.schema, perf_source.docs)
    yield url, engine
    if not keep_target(request.config):
        release_target(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def mapped(perf_source: PerfSource) -> list[MappedApp]:
    out = []
    for doc in perf_source.docs:
        result = transform_record(RawRecord(doc.app_id, doc.xml), perf_source.contract)
        assert isinstance(result, MappedApp)
        out.append(result)
    return out


@pytest.mark.benchmark(group="loader")
def test_loader_alone(
    benchmark: BenchmarkFixture,
    perf_source: PerfSource,
    target: tuple[str, sa.Engine],
    mapped: list[MappedApp],
) -> None:
    url, engine = target
    writer = open_writer(engine, perf_source.contract)
    batches = [mapped[i : i + BATCH] for i in range(0, len(mapped), BATCH)]
    logs = [log_rows([outcome_for(a) for a in b], "bench") for b in batches]

    def write_all() -> int:
        for batch, log in zip(batches, logs, strict=True):
            writer.write(batch, log)
        return len(batches)

    def reset() -> None:
        reset_target(engine, perf_source.schema)

    measured(
        benchmark, write_all, rounds=3, setup=reset, counters=lambda n: {"batches": n}, warmup=0
    )
    writer.close()
    assert ledger_problems(engine, perf_source.schema) == []
    rows = sum(a.row_count() for a in mapped) + len(mapped)  # + one log row per app
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        target=url.split("://")[0],
        rows=rows,
        rows_per_s=round(rows / median),
        records=perf_source.records,
        profile=perf_source.profile,
        database=url.split("://")[0],
    )
    print(
        f"\nloader [{url.split('://')[0]}]: {rows:,} rows in {median:.3f} s = {rows / median:,.0f} rows/s"
    )


@pytest.mark.benchmark(group="end-to-end by target")
def test_end_to_end_one_process(
    benchmark: BenchmarkFixture, perf_source: PerfSource, target: tuple[str, sa.Engine]
) -> None:
    url, engine = target

    def reset() -> None:
        reset_target(engine, perf_source.schema)

    stats = measured(
        benchmark,
        lambda: run_migration(MigrationConfig(db_url=url, batch_size=BATCH), perf_source.contract),
        rounds=3,
        setup=reset,
        counters=run_counters,
        warmup=0,
    )
    assert stats.success == perf_source.records
    median = benchmark.stats.stats.median
    rate = perf_source.records / median * 60
    benchmark.extra_info.update(
        target=url.split("://")[0],
        rec_per_min=round(rate),
        records=perf_source.records,
        profile=perf_source.profile,
        database=url.split("://")[0],
    )
    print(f"\nend-to-end [{url.split('://')[0]}]: {rate:,.0f} rec/min (median of 3)")

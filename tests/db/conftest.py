"""Live database targets for tests/db.

Each backend is tried once per session; an unreachable server skips its tests with the reason
(set XMLMIGRATE_REQUIRE_DB=1, as CI does, to make that a failure instead). Under pytest-xdist
every worker gets its own database, so parallel tests never share tables.
XMLMIGRATE_TEST_DB_PREFIX (default xmlmigrate) names those databases, so that two test sessions
on one server can stay apart. Override the servers with XMLMIGRATE_TEST_PG (e.g. postgres@127.0.0.1:5432) and
XMLMIGRATE_TEST_MARIADB (e.g. root@127.0.0.1:3306); SQL Server runs when XMLMIGRATE_MSSQL_URL
is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.contracts import engine_contract

from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import Schema, build_schema
from xmlmigrate.testing.plugin import odbc_problem, skip_or_fail

PG = os.environ.get("XMLMIGRATE_TEST_PG", "postgres@127.0.0.1:5432")
MARIADB = os.environ.get("XMLMIGRATE_TEST_MARIADB", "root@127.0.0.1:3306")
MSSQL = os.environ.get("XMLMIGRATE_MSSQL_URL")  # e.g. mssql+pyodbc://sa:pw@host:1433/db
BACKENDS = ("sqlite", "postgresql+psycopg", "postgresql+pyodbc", "mysql+pyodbc") + (
    ("mssql+pyodbc",) if MSSQL else ()
)
CONTRACT = engine_contract()  # the engine's feature contract (tests/contracts.py)
SCHEMA = build_schema(CONTRACT)


def _worker_db(worker_id: str) -> str:
    prefix = os.environ.get("XMLMIGRATE_TEST_DB_PREFIX", "xmlmigrate")
    if not prefix.isidentifier():
        raise pytest.UsageError(f"XMLMIGRATE_TEST_DB_PREFIX={prefix!r}: letters, digits and _ only")
    return f"{prefix}_{worker_id}".replace("-", "_")


def _ensure_database(backend: str, name: str) -> None:
    if backend.startswith("postgresql"):
        admin = sa.create_engine(
            f"postgresql+psycopg://{PG}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    elif backend == "mysql+pyodbc":
        admin = make_engine(f"mysql+pyodbc://{MARIADB}/test")
        with admin.begin() as conn:
            conn.execute(
                sa.text(
                    f"CREATE DATABASE IF NOT EXISTS {name} "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )
            )
        admin.dispose()


_reachable: dict[str, str | None] = {}


def target_url(backend: str, worker_id: str, tmp_dir: Path) -> str:
    name = _worker_db(worker_id)
    if backend == "mssql+pyodbc" and MSSQL:
        return MSSQL  # a database the user gave: tests drop and create their tables in it
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / (name + '.db')}"
    if "+pyodbc" in backend and (odbc := odbc_problem(backend.split("+")[0])):
        skip_or_fail(f"{backend}: {odbc}")
    if backend not in _reachable:
        try:
            _ensure_database(backend, name)
            _reachable[backend] = None
        except Exception as exc:  # the reason is reported by the skip
            _reachable[backend] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    problem = _reachable[backend]
    if problem is not None:
        skip_or_fail(f"{backend} server not reachable: {problem}")
    host = PG if backend.startswith("postgresql") else MARIADB
    return f"{backend}://{host}/{name}"


def drop_every_table(engine: sa.Engine) -> None:
    """An empty database, whichever contracts' tables earlier tests left in it (a worker's
    database is shared by the tests it runs)."""
    found = sa.MetaData()
    found.reflect(engine)
    found.drop_all(engine)


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty target of each backend: all tables dropped and created afresh."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url(request.param, worker, tmp_path_factory.getbasetemp())
    engine = make_engine(url)
    drop_every_table(engine)
    SCHEMA.create(engine)
    engine.dispose()
    yield url


@pytest.fixture
def schema() -> Schema:
    return SCHEMA

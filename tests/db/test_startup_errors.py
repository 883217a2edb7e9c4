"""Connection mistakes against live servers (issue 22): exit 2 with a hint saying what to fix,
for status, init and run alike; skipped when the server is unreachable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from tests.cli import run_cli
from tests.db.conftest import MARIADB, PG

from xmlmigrate.db import make_engine
from xmlmigrate.testing.plugin import odbc_problem, skip_or_fail

COMMANDS = ("status", "init", "run")


def _reachable(url: str) -> None:
    try:
        engine = make_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        skip_or_fail(f"{url.split('://')[0]} server not reachable: {str(exc)[:200]}")


def _server(url: str) -> tuple[str, str]:
    user_host = url.split("://", 1)[1].split("/", 1)[0]
    user, _, hostport = user_host.rpartition("@")
    return user, hostport


@pytest.fixture(scope="module")
def pg() -> str:
    _reachable(f"postgresql+psycopg://{PG}/postgres")
    return PG


@pytest.fixture(scope="module")
def mariadb() -> str:
    if problem := odbc_problem("mysql"):
        skip_or_fail(f"mysql+pyodbc: {problem}")
    _reachable(f"mysql+pyodbc://{MARIADB}/test")
    return MARIADB


@pytest.mark.parametrize("command", COMMANDS)
def test_pg_database_that_does_not_exist(pg: str, command: str) -> None:
    _, hostport = _server(f"x://{pg}/")
    out = run_cli(command, "--db", f"postgresql+psycopg://{pg}/xm_err_nosuch", "-q")
    assert out.returncode == 2, out.stderr
    assert f'database "xm_err_nosuch" does not exist on {hostport}' in out.stderr
    assert "createdb xm_err_nosuch" in out.stderr and "pending" not in out.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_pg_unknown_role(pg: str, command: str) -> None:
    _, hostport = _server(f"x://{pg}/")
    out = run_cli(command, "--db", f"postgresql+psycopg://xm_err_nobody@{hostport}/postgres")
    assert out.returncode == 2, out.stderr
    assert 'role "xm_err_nobody" does not exist' in out.stderr and "pending" not in out.stderr
    assert "migrate" not in out.stderr  # no progress bar before the error


@pytest.mark.parametrize("command", COMMANDS)
def test_mariadb_wrong_password(mariadb: str, command: str) -> None:
    user, hostport = _server(f"x://{mariadb}/")
    user = user.split(":")[0]
    out = run_cli(command, "--db", f"mysql+pyodbc://{user}:xm_err_wrong@{hostport}/test", "-q")
    assert out.returncode == 2, out.stderr
    assert "access denied" in out.stderr and "password" in out.stderr
    assert "xm_err_wrong" not in out.stderr and "pending" not in out.stderr


def test_mariadb_database_that_does_not_exist(mariadb: str) -> None:
    out = run_cli("status", "--db", f"mysql+pyodbc://{mariadb}/xm_err_nosuch")
    assert out.returncode == 2, out.stderr
    assert 'database "xm_err_nosuch" does not exist' in out.stderr
    assert "CREATE DATABASE xm_err_nosuch" in out.stderr

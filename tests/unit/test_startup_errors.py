"""Configuration mistakes are the user's to fix: exit 2 with a hint, never exit 3 ("the run
stopped; ... stays pending", which tells automation to retry), and no progress bar before
the error (issue 22). The same failures mid-run stay exit 3."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.cli import run_cli

from xmlmigrate.cli import _foreignerror_line, main
from xmlmigrate.db.engine import check_url, connect_problem
from xmlmigrate.errors import EXIT_INFRASTRUCTURE, UserError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user_error(url: str) -> str:
    with pytest.raises(UserError) as caught:
        check_url(url)
    return str(caught.value)


def test_postgres_scheme_suggests_postgresql_psycopg() -> None:
    message = user_error("postgres://me:secret@db.example:5432/app")
    assert "postgresql+psycopg://me:***@db.example:5432/app" in message
    assert "secret" not in message


@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_mysql_without_driver_suggests_pyodbc(scheme: str) -> None:
    message = user_error(f"{scheme}://root:secret@127.0.0.1:3306/test")
    assert "mysql+pyodbc://root:***@127.0.0.1:3306/test" in message
    assert "odbc-mariadb" in message and "secret" not in message


def test_sqlite_with_two_slashes_suggests_three() -> None:
    assert "sqlite:///x.db" in user_error("sqlite://x.db")


@pytest.mark.parametrize(
    ("given", "suggested"),
    [
        ("127.0.0.1:5432/db", "postgresql+psycopg://127.0.0.1:5432/db"),
        ("me@db.example:5432/app", "postgresql+psycopg://me@db.example:5432/app"),
    ],
)
def test_bare_host_port_suggests_a_server_url_not_sqlite(given: str, suggested: str) -> None:
    message = user_error(given)
    assert suggested in message and "sqlite:///" not in message


def test_bare_file_name_still_suggests_sqlite() -> None:
    assert "sqlite:///mydata.db" in user_error("mydata.db")


def test_generate_into_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing" / "dir"
    code = main(["generate", "--count", "3", "-q", "--db", f"sqlite:///{missing / 'x.db'}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"directory {missing} does not exist" in err and "create it" in err


def test_refused_port_is_exit_2_without_a_progress_bar() -> None:
    port = free_port()
    for command in ("run", "status", "init"):
        out = run_cli(
            command, "--db", f"postgresql+psycopg://postgres:secret@127.0.0.1:{port}/test"
        )
        assert out.returncode == 2, (command, out.stderr)
        assert f"connection refused at 127.0.0.1:{port}" in out.stderr
        assert "is the server running" in out.stderr
        assert "migrate" not in out.stderr and "0/?" not in out.stderr
        assert "pending" not in out.stderr and "secret" not in out.stderr


def test_unknown_host_is_exit_2() -> None:
    out = run_cli("status", "--db", "postgresql+psycopg://postgres@nosuchhost.invalid/test")
    assert out.returncode == 2, out.stderr
    assert "nosuchhost.invalid" in out.stderr and "host" in out.stderr


def test_mssql_without_odbc_driver_names_msodbcsql18() -> None:
    import pyodbc

    if "ODBC Driver 18 for SQL Server" in pyodbc.drivers():
        pytest.skip("Microsoft's ODBC driver is installed here")
    for url in ("mssql://sa:secret@127.0.0.1:1433/test", "mssql+pyodbc://sa:secret@127.0.0.1/x"):
        out = run_cli("status", "--db", url)
        assert out.returncode == 2, out.stderr
        assert "msodbcsql18" in out.stderr and "secret" not in out.stderr


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ('connection failed: FATAL:  database "nosuch" does not exist', 'database "nosuch"'),
        ('FATAL:  role "bob" does not exist', 'role "bob"'),
        ('FATAL:  password authentication failed for user "bob"', "password"),
        ("[28000] [ma-3.1.15]Access denied for user 'root'@'127.0.0.1' (1045)", "access denied"),
        ("[42000] [ma-3.1.15]Unknown database 'nosuch' (1049) (SQLDriverConnect)", '"nosuch"'),
        ("[IM002] [unixODBC][Driver Manager]Data source name not found", "ODBC driver"),
        ("[01000] [unixODBC][Driver Manager]Can't open lib 'X' : file not found", "ODBC driver"),
    ],
)
def test_startup_failures_are_classified(reason: str, expected: str) -> None:
    exc = sa.exc.OperationalError("connect", {}, Exception(reason))
    hint = connect_problem(exc, "postgresql+psycopg://bob:secret@127.0.0.1:5432/nosuch")
    assert hint is not None and expected in hint and "secret" not in hint


def test_a_lost_connection_mid_run_stays_exit_3() -> None:
    exc = sa.exc.OperationalError("insert", {}, Exception("server closed the connection"))
    assert connect_problem(exc, "postgresql+psycopg://127.0.0.1/test") is None
    refused = sa.exc.OperationalError("connect", {}, Exception("Connection refused"))
    message, code = _foreignerror_line(refused)  # once the run has started: the machine
    assert code == EXIT_INFRASTRUCTURE and "rest stays pending" in message


def test_no_progress_bar_before_a_missing_source(tmp_path: Path) -> None:
    out = run_cli("run", "--db", f"sqlite:///{tmp_path / 'empty.db'}")  # no -q: a bar may show
    assert out.returncode == 2, out.stderr
    assert "no table 'app_xml'" in out.stderr
    assert "0/?" not in out.stderr and "migrate ━" not in out.stderr

"""Choose the bulk writer for a target."""

from __future__ import annotations

from types import ModuleType
from typing import Any, cast

from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import BulkWriter
from xmlmigrate.db.engine import engine_lock_timeout, engine_target
from xmlmigrate.db.errors import UnsupportedDatabase
from xmlmigrate.db.locks import apply_settings
from xmlmigrate.errors import InfrastructureError, UserError

ODBC_INSTALL = (
    "install the ODBC driver manager and drivers (Debian/Ubuntu: apt-get install unixodbc "
    "odbc-postgresql odbc-mariadb; SQL Server: Microsoft's msodbcsql18) and "
    "pip install 'xmlmigrate[odbc]'"
)


def import_pyodbc() -> ModuleType:
    """pyodbc, or a one-line error saying what to install (it needs libodbc.so.2)."""
    try:
        import pyodbc
    except ImportError as exc:
        raise UserError(f"ODBC is not available here ({exc}): {ODBC_INSTALL}") from None
    return cast(ModuleType, pyodbc)


SUPPORTED = (
    "sqlite:///FILE, postgresql+psycopg://, postgresql+pyodbc://, mysql+pyodbc://, "
    "mariadb+pyodbc://, mssql+pyodbc://"
)


def open_writer(engine: Engine, contract: CompiledContract, fence: str | None = None) -> BulkWriter:
    """The bulk writer of ``engine``'s target. ``fence``: the run id whose lease every batch
    checks first (server targets; SQLite's lease is a file lock held by the one writer)."""
    target = engine_target(engine)
    if target.backend == "sqlite":
        from xmlmigrate.db.sqlite import SqliteWriter

        return SqliteWriter(engine, contract)
    if target.backend == "postgresql" and target.driver in ("psycopg", "psycopg3"):
        from xmlmigrate.db.postgres import PostgresCopyWriter

        return PostgresCopyWriter(engine, contract, fence)
    if target.uses_odbc and target.backend in ("postgresql", "mysql", "mariadb", "mssql"):
        pyodbc = import_pyodbc()
        from xmlmigrate.db.odbc import OdbcWriter

        try:
            conn = pyodbc.connect(target.odbc_connection_string(), autocommit=False)
        except pyodbc.InterfaceError as exc:  # IM002 and friends: no such driver
            raise UserError(
                f"cannot open the ODBC driver: {_odbc_message(exc)}; {ODBC_INSTALL}"
            ) from None
        except pyodbc.Error as exc:
            raise InfrastructureError(
                f"cannot connect through ODBC: {_odbc_message(exc)}"
            ) from None
        try:
            apply_settings(conn, target.backend, engine_lock_timeout(engine))
        except pyodbc.Error as exc:
            conn.close()
            raise InfrastructureError(
                f"cannot set the lock timeout through ODBC: {_odbc_message(exc)}"
            ) from None
        if target.backend in ("mysql", "mariadb"):
            # MariaDB Connector/ODBC 3.1 garbles text of 128 characters or more sent as UTF-16
            # (byte-swapped, or a memory allocation error): send text as UTF-8 instead
            conn.setencoding(encoding="utf-8")
        # Parameter arrays (fast_executemany) only where the driver gets them right: SQL Server.
        # psqlODBC's drop timestamp fractions and crash with explicit sizes; MariaDB
        # Connector/ODBC 3.1's silently skip a row that violates a key — and every row after it.
        fast = target.backend == "mssql"
        return OdbcWriter(conn, contract, target.backend, fast_executemany=fast, fence=fence)
    raise UnsupportedDatabase(
        f"no bulk writer for {target.backend}+{target.driver}; supported: {SUPPORTED}"
    )


def _odbc_message(exc: Any) -> str:
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    return " ".join(text.split())[:300] or type(exc).__name__

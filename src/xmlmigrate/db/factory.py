"""Choose the bulk writer for a target."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import BulkWriter
from xmlmigrate.db.engine import engine_target


class UnsupportedDatabase(ValueError):
    pass


SUPPORTED = (
    "sqlite:///FILE, postgresql+psycopg://, postgresql+pyodbc://, mysql+pyodbc://, "
    "mariadb+pyodbc://, mssql+pyodbc://"
)


def open_writer(engine: Engine, contract: CompiledContract) -> BulkWriter:
    target = engine_target(engine)
    if target.backend == "sqlite":
        from xmlmigrate.db.sqlite import SqliteWriter

        return SqliteWriter(engine, contract)
    if target.backend == "postgresql" and target.driver in ("psycopg", "psycopg3"):
        from xmlmigrate.db.postgres import PostgresCopyWriter

        return PostgresCopyWriter(engine, contract)
    if target.uses_odbc and target.backend in ("postgresql", "mysql", "mariadb", "mssql"):
        import pyodbc

        from xmlmigrate.db.odbc import OdbcWriter

        conn = pyodbc.connect(target.odbc_connection_string(), autocommit=False)
        # Parameter arrays (fast_executemany) only where the driver gets them right: SQL Server.
        # psqlODBC's drop timestamp fractions and crash with explicit sizes; MariaDB
        # Connector/ODBC 3.1's silently skip a row that violates a key — and every row after it.
        fast = target.backend == "mssql"
        return OdbcWriter(conn, contract, target.backend, fast_executemany=fast)
    raise UnsupportedDatabase(
        f"no bulk writer for {target.backend}+{target.driver}; supported: {SUPPORTED}"
    )

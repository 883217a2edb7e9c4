"""SQLite: stdlib ``executemany`` per table inside one transaction per batch."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import BatchWriter, Target, root_key
from xmlmigrate.db.layout import sqlite_adapter
from xmlmigrate.identifiers import delete_app_sql, insert_sql


class SqliteWriter(BatchWriter[sqlite3.Cursor, str]):
    # constraint and value errors are a document's; "database or disk is full", "disk I/O
    # error", "database is locked" are not
    driver_errors = (sqlite3.Error, OverflowError)
    data_errors = (sqlite3.IntegrityError, sqlite3.DataError, OverflowError)

    def __init__(self, engine: Engine, contract: CompiledContract) -> None:
        self._raw = engine.raw_connection()
        conn = self._raw.driver_connection
        assert isinstance(conn, sqlite3.Connection)
        self._conn = conn
        self._replace_sql = delete_app_sql("sqlite", *root_key(contract))
        super().__init__(conn, contract)

    def _target(self, name: str, columns: list[sa.Column[Any]], ledger: bool) -> Target[str]:
        names = tuple(c.name for c in columns)
        adapters = [
            (i, a) for i, c in enumerate(columns) if (a := sqlite_adapter(c.type)) is not None
        ]
        return Target(name, names, insert_sql("sqlite", name, names), adapters)

    def _begin(self) -> sqlite3.Cursor:
        cur = self._conn.cursor()
        cur.execute("BEGIN")
        return cur

    def _delete(self, cur: sqlite3.Cursor, app_ids: Sequence[int]) -> None:
        cur.executemany(self._replace_sql, [(i,) for i in app_ids])

    def _insert(self, cur: sqlite3.Cursor, table: Target[str], rows: list[tuple[Any, ...]]) -> None:
        cur.executemany(table.statement, rows)

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _reason(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self._raw.close()

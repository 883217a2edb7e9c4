"""SQLite: stdlib ``executemany`` per table inside one transaction per batch."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import suppress

from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import (
    LOG_COLUMNS,
    WARNING_COLUMNS,
    Adapter,
    LogRow,
    WarningRow,
    WriteError,
    root_key,
    table_rows,
)
from xmlmigrate.db.layout import sqlite_adapter
from xmlmigrate.db.schema import LOG_TABLE, WARNING_TABLE, schema_for
from xmlmigrate.identifiers import delete_app_sql, insert_sql
from xmlmigrate.model import MappedApp


class SqliteWriter:
    def __init__(self, engine: Engine, contract: CompiledContract) -> None:
        self._raw = engine.raw_connection()
        conn = self._raw.driver_connection
        assert isinstance(conn, sqlite3.Connection)
        self._conn = conn
        self._tables: list[tuple[str, str, tuple[str, ...], list[tuple[int, Adapter]]]] = []
        for t in schema_for(contract).targets:
            names = tuple(c.name for c in t.columns)
            adapters = [
                (i, a) for i, c in enumerate(t.columns) if (a := sqlite_adapter(c.type)) is not None
            ]
            self._tables.append((t.name, insert_sql("sqlite", t.name, names), names, adapters))
        self._replace_sql = delete_app_sql("sqlite", *root_key(contract))
        self._log_sql = insert_sql("sqlite", LOG_TABLE, LOG_COLUMNS)
        self._warning_sql = insert_sql("sqlite", WARNING_TABLE, WARNING_COLUMNS)
        self.statements = 0

    def write(
        self,
        apps: Sequence[MappedApp],
        log_rows: Sequence[LogRow],
        warning_rows: Sequence[WarningRow] = (),
        replace: Sequence[int] = (),
    ) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN")
            if replace:
                conn.executemany(self._replace_sql, [(i,) for i in replace])
                self.statements += 1
            for name, sql, names, adapters in self._tables:
                params = table_rows(apps, name, names, adapters)
                if params:
                    conn.executemany(sql, params)
                    self.statements += 1
            conn.executemany(
                self._log_sql,
                [(*r[:-1], r.logged_at.isoformat(sep=" ")) for r in log_rows],
            )
            self.statements += 1
            if warning_rows:
                conn.executemany(self._warning_sql, warning_rows)
                self.statements += 1
            conn.execute("COMMIT")
        except (sqlite3.Error, OverflowError) as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            # constraint and value errors are a document's; "database or disk is full", "disk
            # I/O error", "database is locked" are not
            data = isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError | OverflowError)
            raise WriteError(f"{type(exc).__name__}: {exc}", data_error=data) from exc

    def close(self) -> None:
        self._raw.close()

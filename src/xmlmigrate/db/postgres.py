"""PostgreSQL through psycopg: binary COPY of every table, one transaction per batch."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import psycopg
from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import (
    LOG_COLUMNS,
    WARNING_COLUMNS,
    LogRow,
    WarningRow,
    WriteError,
    root_key,
    table_rows,
)
from xmlmigrate.db.layout import ledger_columns, pg_copy_type
from xmlmigrate.db.lease import fence_sql, lease_lost
from xmlmigrate.db.schema import LOG_TABLE, WARNING_TABLE, schema_for
from xmlmigrate.identifiers import column_list, quote
from xmlmigrate.model import MappedApp

# binary COPY needs each column's exact type: derived from the one layout (db/layout.py)
LOG_TYPES = [pg_copy_type(c.type) for c in ledger_columns(LOG_TABLE)]
WARNING_TYPES = [pg_copy_type(c.type) for c in ledger_columns(WARNING_TABLE)]


def _copy_sql(table: str, columns: Sequence[str]) -> str:
    return (
        f"COPY {quote('postgresql', table)} ({column_list('postgresql', columns)}) "
        "FROM STDIN (FORMAT BINARY)"
    )


class PostgresCopyWriter:
    """Rows go to the server as binary COPY streams: no SQL text per row, no parsing there.
    With ``fence`` (a run id), each batch first checks that run's lease (db/lease.py)."""

    def __init__(
        self, engine: Engine, contract: CompiledContract, fence: str | None = None
    ) -> None:
        self._raw = engine.raw_connection()
        conn = self._raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        self._conn: psycopg.Connection[Any] = conn
        self._tables = [
            (
                t.name,
                _copy_sql(t.name, names),
                names,
                [pg_copy_type(c.type) for c in t.columns],
            )
            for t in schema_for(contract).targets
            for names in [tuple(c.name for c in t.columns)]
        ]
        root, key = root_key(contract)
        self._replace_sql = (
            f"DELETE FROM {quote('postgresql', root)} WHERE {quote('postgresql', key)} = ANY(%s)"
        )
        self._log_sql = _copy_sql(LOG_TABLE, LOG_COLUMNS)
        self._warning_sql = _copy_sql(WARNING_TABLE, WARNING_COLUMNS)
        self._fence = fence
        self._fence_sql = fence_sql("postgresql", "%s")
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
            with conn.cursor() as cur:
                if self._fence is not None:
                    cur.execute(self._fence_sql, (self._fence,))
                    if cur.fetchone() is None:
                        conn.rollback()
                        raise lease_lost(self._fence)
                if replace:
                    cur.execute(self._replace_sql, (list(replace),))
                    self.statements += 1
                for name, sql, names, types in self._tables:
                    rows = table_rows(apps, name, names)
                    if rows:
                        self._copy(cur, sql, types, rows)
                self._copy(cur, self._log_sql, LOG_TYPES, log_rows)
                if warning_rows:
                    self._copy(cur, self._warning_sql, WARNING_TYPES, warning_rows)
            conn.commit()
        except psycopg.Error as exc:
            with suppress(psycopg.Error):  # a lost connection cannot roll back: it is gone
                conn.rollback()
            data = isinstance(exc, psycopg.IntegrityError | psycopg.DataError)
            raise WriteError(_reason(exc), data_error=data) from exc

    def _copy(
        self, cur: psycopg.Cursor[Any], sql: str, types: list[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        with cur.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        self.statements += 1

    def close(self) -> None:
        self._raw.close()


def _reason(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or next(iter(str(exc).splitlines()), "") or type(exc).__name__
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    return f"{type(exc).__name__}: {text}"

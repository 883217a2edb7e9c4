"""PostgreSQL through psycopg: binary COPY of every table, one transaction per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import BatchWriter, Target, root_key
from xmlmigrate.db.layout import pg_copy_type
from xmlmigrate.db.lease import fence_sql
from xmlmigrate.identifiers import column_list, quote

# a table's COPY statement, and each column's exact type: binary COPY needs it
Copy = tuple[str, list[str]]


def _copy_sql(table: str, columns: Sequence[str]) -> str:
    return (
        f"COPY {quote('postgresql', table)} ({column_list('postgresql', columns)}) "
        "FROM STDIN (FORMAT BINARY)"
    )


class PostgresCopyWriter(BatchWriter[psycopg.Cursor[Any], Copy]):
    """Rows go to the server as binary COPY streams: no SQL text per row, no parsing there.
    With ``fence`` (a run id), each batch first checks that run's lease (db/lease.py)."""

    driver_errors = (psycopg.Error,)
    data_errors = (psycopg.IntegrityError, psycopg.DataError)

    def __init__(
        self, engine: Engine, contract: CompiledContract, fence: str | None = None
    ) -> None:
        self._raw = engine.raw_connection()
        conn = self._raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        self._conn: psycopg.Connection[Any] = conn
        root, key = root_key(contract)
        self._replace_sql = (
            f"DELETE FROM {quote('postgresql', root)} WHERE {quote('postgresql', key)} = ANY(%s)"
        )
        self._fence_sql = fence_sql("postgresql", "%s")
        super().__init__(conn, contract, fence)

    def _target(self, name: str, columns: list[sa.Column[Any]], ledger: bool) -> Target[Copy]:
        names = tuple(c.name for c in columns)
        return Target(
            name, names, (_copy_sql(name, names), [pg_copy_type(c.type) for c in columns])
        )

    def _begin(self) -> psycopg.Cursor[Any]:
        return self._conn.cursor()

    def _leased(self, cur: psycopg.Cursor[Any], fence: str) -> bool:
        cur.execute(self._fence_sql, (fence,))
        return cur.fetchone() is not None

    def _delete(self, cur: psycopg.Cursor[Any], app_ids: Sequence[int]) -> None:
        cur.execute(self._replace_sql, (list(app_ids),))

    def _insert(
        self, cur: psycopg.Cursor[Any], table: Target[Copy], rows: list[tuple[Any, ...]]
    ) -> None:
        sql, types = table.statement
        with cur.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def _reason(self, exc: Exception) -> str:
        assert isinstance(exc, psycopg.Error)
        diag = exc.diag
        text = diag.message_primary or next(iter(str(exc).splitlines()), "") or type(exc).__name__
        if diag.message_detail:
            text += f" ({diag.message_detail})"
        return f"{type(exc).__name__}: {text}"

    def close(self) -> None:
        self._raw.close()

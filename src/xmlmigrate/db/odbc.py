"""pyodbc: SQL Server in production, and PostgreSQL (psqlODBC) / MariaDB (Connector/ODBC) here.

One ``executemany`` per table inside one transaction per batch. Parameter types and sizes are
set explicitly (``setinputsizes``) from the contract, so strings bind as NVARCHAR(n) instead of
NVARCHAR(max) and decimals with their precision — the traps that make ``fast_executemany`` slow
or wrong on SQL Server. Keys from the XML are inserted as given; on SQL Server, a target
column that is an IDENTITY gets ``SET IDENTITY_INSERT ... ON`` around its inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

import pyodbc
import sqlalchemy as sa

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import (
    LOG_COLUMNS,
    WARNING_COLUMNS,
    Adapter,
    LogRow,
    WarningRow,
    WriteError,
    adapted,
    root_key,
    table_rows,
)
from xmlmigrate.db.layout import InputSize, ledger_columns, odbc_input_size
from xmlmigrate.db.lease import fence_sql, lease_lost
from xmlmigrate.db.schema import LOG_TABLE, WARNING_TABLE, schema_for
from xmlmigrate.identifiers import delete_app_sql, insert_sql, quote
from xmlmigrate.model import MappedApp


def identity_columns(conn: Any, table: str) -> set[str]:
    """SQL Server: the IDENTITY columns of a table (empty if it has none or does not exist)."""
    cur = conn.cursor()
    try:
        cur.execute(
            "SELECT name FROM sys.identity_columns WHERE object_id = OBJECT_ID(?)",
            quote("mssql", table),
        )
        return {str(r[0]) for r in cur.fetchall()}
    finally:
        cur.close()


class OdbcWriter:
    def __init__(
        self,
        conn: Any,
        contract: CompiledContract,
        backend: str,
        fast_executemany: bool = True,
        fence: str | None = None,
    ) -> None:
        self._conn = conn
        self._fence = fence  # a run id: each batch first checks its lease (db/lease.py)
        self._fence_sql = fence_sql(backend)
        conn.autocommit = False
        self.backend = backend
        self.fast_executemany = fast_executemany
        # MariaDB's driver keeps microseconds of a bound timestamp only with parameter arrays;
        # as ISO text they always survive.
        self.timestamps_as_text = backend in ("mysql", "mariadb")
        self.statements = 0
        as_text = self.timestamps_as_text
        self._tables: list[
            tuple[str, str, tuple[str, ...], list[InputSize], bool, list[tuple[int, Adapter]]]
        ] = []
        for t in schema_for(contract).targets:
            names = tuple(c.name for c in t.columns)
            identity = bool(backend == "mssql" and identity_columns(conn, t.name) & set(names))
            self._tables.append(
                (
                    t.name,
                    insert_sql(backend, t.name, names),
                    names,
                    [odbc_input_size(c.type, as_text) for c in t.columns],
                    identity,
                    _timestamp_positions(list(t.columns)) if as_text else [],
                )
            )
        self._replace_sql = delete_app_sql(backend, *root_key(contract))
        self._log = (
            insert_sql(backend, LOG_TABLE, LOG_COLUMNS),
            [odbc_input_size(c.type, as_text) for c in ledger_columns(LOG_TABLE)],
        )
        self._log_timestamps = _timestamp_positions(ledger_columns(LOG_TABLE)) if as_text else []
        self._warning = (
            insert_sql(backend, WARNING_TABLE, WARNING_COLUMNS),
            [odbc_input_size(c.type, as_text) for c in ledger_columns(WARNING_TABLE)],
        )
        # the lookups above opened a transaction: never leave it idle between batches (it
        # would hold locks an ALTER TABLE queues behind, and the batches queue behind that)
        conn.rollback()

    def write(
        self,
        apps: Sequence[MappedApp],
        log_rows: Sequence[LogRow],
        warning_rows: Sequence[WarningRow] = (),
        replace: Sequence[int] = (),
    ) -> None:
        conn = self._conn
        try:
            cur = conn.cursor()
            cur.fast_executemany = self.fast_executemany
            if self._fence is not None:
                cur.execute(self._fence_sql, self._fence)
                if cur.fetchone() is None:
                    cur.close()
                    conn.rollback()
                    raise lease_lost(self._fence)
            if replace:
                cur.executemany(self._replace_sql, [(i,) for i in replace])
                self.statements += 1
            for name, sql, names, sizes, identity, as_text in self._tables:
                rows = table_rows(apps, name, names, as_text)
                if not rows:
                    continue
                if not identity:
                    self._executemany(cur, sql, sizes, rows)
                    continue
                # the setting belongs to the session: switch it off whatever happens
                cur.execute(f"SET IDENTITY_INSERT {quote('mssql', name)} ON")
                try:
                    self._executemany(cur, sql, sizes, rows)
                finally:
                    with suppress(pyodbc.Error):
                        cur.execute(f"SET IDENTITY_INSERT {quote('mssql', name)} OFF")
            log = [tuple(r) for r in log_rows]
            if self._log_timestamps:
                log = [adapted(r, self._log_timestamps) for r in log]
            self._executemany(cur, *self._log, log)
            if warning_rows:
                self._executemany(cur, *self._warning, [tuple(r) for r in warning_rows])
            cur.close()
            conn.commit()
        except pyodbc.Error as exc:
            with suppress(pyodbc.Error):  # a lost connection cannot roll back: it is gone
                conn.rollback()
            data = isinstance(exc, pyodbc.IntegrityError | pyodbc.DataError)
            raise WriteError(_reason(exc), data_error=data) from exc

    def _executemany(
        self, cur: Any, sql: str, sizes: list[InputSize], rows: list[tuple[Any, ...]]
    ) -> None:
        cur.setinputsizes(sizes)
        cur.executemany(sql, rows)
        self.statements += 1

    def close(self) -> None:
        self._conn.close()


def _timestamp_as_text(v: Any) -> Any:
    return v.isoformat(sep=" ", timespec="microseconds") if isinstance(v, datetime) else v


def _timestamp_positions(columns: list[sa.Column[Any]]) -> list[tuple[int, Adapter]]:
    """MariaDB: timestamps bound as ISO text (adapters for :func:`table_rows`)."""
    return [
        (i, _timestamp_as_text) for i, c in enumerate(columns) if isinstance(c.type, sa.DateTime)
    ]


def _reason(exc: pyodbc.Error) -> str:
    args = exc.args
    text = str(args[1]) if len(args) > 1 else str(exc)
    # drop the driver-manager prefixes: "[unixODBC][Driver]ERROR: duplicate key ..."
    while text.startswith("["):
        end = text.find("]")
        if end < 0:
            break
        text = text[end + 1 :]
    lines = text.strip().splitlines() or ["(the driver gave no message)"]
    return f"{args[0] if args else 'ODBC'}: {lines[0][:400]}"

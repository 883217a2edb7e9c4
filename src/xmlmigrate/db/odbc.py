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
from typing import Any, NamedTuple

import pyodbc
import sqlalchemy as sa

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import Adapter, BatchWriter, Target, root_key
from xmlmigrate.db.layout import InputSize, odbc_input_size
from xmlmigrate.db.lease import fence_sql
from xmlmigrate.identifiers import delete_app_sql, insert_sql, quote


class Insert(NamedTuple):
    """A table's insert on one ODBC target."""

    sql: str
    sizes: list[InputSize]  # setinputsizes: every parameter's SQL type, size and digits
    identity: bool  # SQL Server: it fills an IDENTITY column (SET IDENTITY_INSERT around it)


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


class OdbcWriter(BatchWriter[Any, Insert]):
    driver_errors = (pyodbc.Error,)
    data_errors = (pyodbc.IntegrityError, pyodbc.DataError)

    def __init__(
        self,
        conn: Any,
        contract: CompiledContract,
        backend: str,
        fast_executemany: bool = True,
        fence: str | None = None,
    ) -> None:
        self._conn = conn
        self._fence_sql = fence_sql(backend)
        conn.autocommit = False
        self.backend = backend
        self.fast_executemany = fast_executemany
        # MariaDB's driver keeps microseconds of a bound timestamp only with parameter arrays;
        # as ISO text they always survive.
        self.timestamps_as_text = backend in ("mysql", "mariadb")
        self._replace_sql = delete_app_sql(backend, *root_key(contract))
        super().__init__(conn, contract, fence)  # fence: a run id whose lease each batch checks
        # the lookups of IDENTITY columns opened a transaction: never leave it idle between
        # batches (it would hold locks an ALTER TABLE queues behind, and the batches queue
        # behind that)
        conn.rollback()

    def _target(self, name: str, columns: list[sa.Column[Any]], ledger: bool) -> Target[Insert]:
        names = tuple(c.name for c in columns)
        as_text = self.timestamps_as_text
        # keys from the XML go into an IDENTITY column as given (the ledger's own keys are
        # generated: never among its insert columns)
        identity = bool(
            not ledger
            and self.backend == "mssql"
            and identity_columns(self._conn, name) & set(names)
        )
        return Target(
            name,
            names,
            Insert(
                insert_sql(self.backend, name, names),
                [odbc_input_size(c.type, as_text) for c in columns],
                identity,
            ),
            _timestamp_positions(columns) if as_text else [],
        )

    def _begin(self) -> Any:
        cur = self._conn.cursor()
        cur.fast_executemany = self.fast_executemany
        return cur

    def _leased(self, cur: Any, fence: str) -> bool:
        cur.execute(self._fence_sql, fence)
        return cur.fetchone() is not None

    def _delete(self, cur: Any, app_ids: Sequence[int]) -> None:
        cur.executemany(self._replace_sql, [(i,) for i in app_ids])

    def _insert(self, cur: Any, table: Target[Insert], rows: list[tuple[Any, ...]]) -> None:
        sql, sizes, identity = table.statement
        if identity:  # the setting belongs to the session: switch it off whatever happens
            cur.execute(f"SET IDENTITY_INSERT {quote('mssql', table.name)} ON")
        try:
            cur.setinputsizes(sizes)
            cur.executemany(sql, rows)
        finally:
            if identity:
                with suppress(pyodbc.Error):
                    cur.execute(f"SET IDENTITY_INSERT {quote('mssql', table.name)} OFF")

    def _reason(self, exc: Exception) -> str:
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

    def close(self) -> None:
        self._conn.close()


def _timestamp_as_text(v: Any) -> Any:
    return v.isoformat(sep=" ", timespec="microseconds") if isinstance(v, datetime) else v


def _timestamp_positions(columns: list[sa.Column[Any]]) -> list[tuple[int, Adapter]]:
    """MariaDB: timestamps bound as ISO text (adapters for :func:`table_rows`)."""
    return [
        (i, _timestamp_as_text) for i, c in enumerate(columns) if isinstance(c.type, sa.DateTime)
    ]

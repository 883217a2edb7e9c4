"""One definition of every table layout, and one type map per dialect.

The tool's own tables (``app_xml``, the ledger, the enums, runs and leases) are defined here
once, as SQLAlchemy Core tables; a contract's tables get their column types from
:func:`column_type` (contract type → SQLAlchemy type). Everything else is derived from those
SQLAlchemy columns: the row tuples' column order (:func:`insert_columns`), the ledger's
truncation lengths (:func:`text_limit`), PostgreSQL's binary COPY types
(:func:`pg_copy_type`), pyodbc's parameter types and sizes (:func:`odbc_input_size`) and
the values SQLite is handed (:func:`sqlite_adapter`). Identifier quoting lives in
:mod:`xmlmigrate.identifiers`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql

if TYPE_CHECKING:
    from xmlmigrate.contract.model import CompiledColumn

SOURCE_TABLE = "app_xml"
LOG_TABLE = "processing_log"
WARNING_TABLE = "processing_warning"
RUN_TABLE = "migration_run"
ENUM_TABLE = "app_enums"
LEASE_TABLE = "migration_lease"

# Dialect details that matter for correctness: MySQL/MariaDB TEXT holds only 64 KB and its
# DATETIME drops fractions; SQL Server's DATETIME rounds to 3.33 ms and VARCHAR is not Unicode.
DOCUMENT_TEXT = (
    sa.UnicodeText()
    .with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
    .with_variant(mssql.NVARCHAR(None), "mssql")  # NVARCHAR(max), not the deprecated NTEXT
)
TIMESTAMP = (
    sa.DateTime()
    .with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    .with_variant(mssql.DATETIME2(), "mssql")  # type: ignore[no-untyped-call]
)
DATE = sa.Date().with_variant(mssql.DATE(), "mssql")  # not DATETIME, whatever the server
LONG_TEXT = sa.UnicodeText().with_variant(mssql.NVARCHAR(None), "mssql")


def column_type(col: CompiledColumn) -> sa.types.TypeEngine[Any]:
    """The SQLAlchemy type of a contract column: the only contract → database type map."""
    t = col.type
    if t == "int":
        return sa.Integer()
    if t == "bigint":
        return sa.BigInteger()
    if t == "decimal":
        return sa.Numeric(col.precision, col.scale, asdecimal=True)
    if t == "string":
        return sa.Unicode(col.length) if col.length else sa.UnicodeText()
    if t == "date":
        return DATE
    if t == "datetime":
        return TIMESTAMP
    if t == "bit":
        return sa.Boolean(create_constraint=False)
    if t == "enum":
        return sa.SmallInteger()
    raise ValueError(f"unknown column type {t!r}")


def _ledger_table(name: str, md: sa.MetaData, key: str, *columns: sa.Column[Any]) -> sa.Table:
    """A ledger table: its generated ``key``, the app and the run a row is about, ``columns``."""
    return sa.Table(
        name,
        md,
        sa.Column(key, sa.Integer, primary_key=True, autoincrement=True),
        # BIGINT: a source app id out of the target key's range is still recorded
        sa.Column("app_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        *columns,
    )


def tool_tables(md: sa.MetaData) -> dict[str, sa.Table]:
    """The tool's own tables, by name, in ``md``."""
    return {
        t.name: t
        for t in (
            sa.Table(
                SOURCE_TABLE,
                md,
                sa.Column("app_id", sa.Integer, primary_key=True, autoincrement=False),
                sa.Column("xml", DOCUMENT_TEXT, nullable=False),
            ),
            _ledger_table(
                LOG_TABLE,
                md,
                "log_id",
                sa.Column("attempt", sa.Integer, nullable=False, default=1),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("stage", sa.String(16)),
                sa.Column("reason", sa.Unicode(1000)),
                sa.Column("warnings", sa.Unicode(1000)),  # {"code": count, ...}
                # SHA-256 (hex) of the document this row's outcome is of, as the database
                # computes it (sources.digest_of): 'status' and 'run --changed' compare it
                sa.Column("doc_digest", sa.String(64)),
                sa.Column("logged_at", TIMESTAMP, nullable=False),
            ),
            _ledger_table(
                WARNING_TABLE,
                md,
                "warning_id",
                sa.Column("code", sa.String(50), nullable=False, index=True),
                sa.Column("detail", sa.Unicode(500)),
            ),
            sa.Table(
                ENUM_TABLE,
                md,
                sa.Column("enum_id", sa.SmallInteger, primary_key=True, autoincrement=False),
                sa.Column("enum_type", sa.String(50), nullable=False),
                sa.Column("code", sa.String(30), nullable=False),
                sa.UniqueConstraint("enum_type", "code", name="uq_app_enums_type_code"),
            ),
            sa.Table(
                RUN_TABLE,
                md,
                sa.Column("run_id", sa.String(36), primary_key=True),
                sa.Column("started_at", TIMESTAMP, nullable=False),
                sa.Column("finished_at", TIMESTAMP),
                sa.Column("records", sa.Integer),
                sa.Column("success", sa.Integer),
                sa.Column("failed", sa.Integer),
                sa.Column("rejected", sa.Integer),
                sa.Column("rec_per_min", sa.Float),
                sa.Column("config", LONG_TEXT),
                # the --cluster run a partition's run belongs to (NULL: a run of its own)
                sa.Column("cluster_run", sa.String(36), index=True),
            ),
            sa.Table(
                LEASE_TABLE,
                md,
                sa.Column("run_id", sa.String(36), primary_key=True),
                sa.Column("app_id_start", sa.BigInteger),
                sa.Column("app_id_end", sa.BigInteger),
                sa.Column("modulo", sa.Integer),
                sa.Column("modulo_instance", sa.Integer),
                sa.Column("owner", sa.String(200), nullable=False),
                sa.Column("acquired_at", sa.DateTime, nullable=False),
            ),
        )
    }


_LEDGER = tool_tables(sa.MetaData())


def insert_columns(table: sa.Table) -> tuple[str, ...]:
    """The columns a writer fills, in table order: all but a generated key."""
    return tuple(c.name for c in table.columns if not (c.primary_key and c.autoincrement is True))


def text_limit(table: str, column: str) -> int:
    """The length of a ledger text column: what the ledger cuts its texts to."""
    length = getattr(_LEDGER[table].c[column].type, "length", None)
    assert isinstance(length, int), f"{table}.{column} has no length"
    return length


LOG_COLUMNS = insert_columns(_LEDGER[LOG_TABLE])
WARNING_COLUMNS = insert_columns(_LEDGER[WARNING_TABLE])


def ledger_columns(name: str) -> list[sa.Column[Any]]:
    """The columns of a ledger table a writer fills, as SQLAlchemy columns."""
    table = _LEDGER[name]
    return [table.c[c] for c in insert_columns(table)]


# -- one type map per dialect, from the SQLAlchemy type ----------------------------------------


def pg_copy_type(t: sa.types.TypeEngine[Any]) -> str:
    """The PostgreSQL type name binary COPY must be told (it has to match the column's)."""
    for cls, name in (
        (sa.BigInteger, "int8"),
        (sa.SmallInteger, "int2"),
        (sa.Integer, "int4"),
        (sa.Float, "float8"),
        (sa.Numeric, "numeric"),
        (sa.Boolean, "bool"),
        (sa.DateTime, "timestamp"),
        (sa.Date, "date"),
        (sa.Text, "text"),
        (sa.String, "varchar"),
    ):
        if isinstance(t, cls):
            return name
    raise ValueError(f"no COPY type for {t!r}")


InputSize = tuple[int, int, int]  # (SQL type, column size, decimal digits)


def odbc_input_size(t: sa.types.TypeEngine[Any], timestamps_as_text: bool = False) -> InputSize:
    """pyodbc ``setinputsizes`` entry: strings bind as NVARCHAR(n) (never NVARCHAR(max)),
    decimals with their precision — the traps that make ``fast_executemany`` slow or wrong."""
    import pyodbc

    if isinstance(t, sa.DateTime):
        return (
            (pyodbc.SQL_WVARCHAR, 26, 0)
            if timestamps_as_text
            else (
                pyodbc.SQL_TYPE_TIMESTAMP,
                27,
                6,
            )
        )
    if isinstance(t, sa.String):
        return (pyodbc.SQL_WVARCHAR, t.length or 0, 0)  # 0: nvarchar(max)
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        return (pyodbc.SQL_DECIMAL, t.precision or 18, t.scale or 0)
    for cls, code in (
        (sa.BigInteger, pyodbc.SQL_BIGINT),
        (sa.SmallInteger, pyodbc.SQL_SMALLINT),
        (sa.Integer, pyodbc.SQL_INTEGER),
        (sa.Boolean, pyodbc.SQL_BIT),
        (sa.Date, pyodbc.SQL_TYPE_DATE),
    ):
        if isinstance(t, cls):
            return (code, 0, 0)
    raise ValueError(f"no ODBC type for {t!r}")


Adapter = Callable[[Any], Any]


def sqlite_adapter(t: sa.types.TypeEngine[Any]) -> Adapter | None:
    """Values SQLite cannot store natively become the text SQLAlchemy reads back."""
    if isinstance(t, sa.DateTime):
        return lambda v: v.isoformat(sep=" ") if isinstance(v, datetime) else v
    if isinstance(t, sa.Date):
        return lambda v: v.isoformat() if isinstance(v, date) else v
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        return lambda v: str(v) if isinstance(v, Decimal) else v
    if isinstance(t, sa.Boolean):
        return lambda v: None if v is None else int(v)
    return None

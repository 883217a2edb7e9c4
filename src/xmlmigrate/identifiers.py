"""Identifiers: which names a contract may use, and the one place SQL text quotes them.

Names from a contract become table and column names in every statement the tool builds.
They are checked twice over: the contract validator accepts only plain identifiers
(:func:`identifier_problem`), and every statement built as text — INSERT, COPY, SET
IDENTITY_INSERT, the source read — quotes each name with the dialect's own quoting
(:func:`quote`), so even a reserved word (``order``, ``select``) is a valid name. Values are
always parameters, never text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # SQLAlchemy loads when a dialect quotes: a worker process never needs it
    from sqlalchemy.engine import Dialect

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_IDENTIFIER = 63  # PostgreSQL's limit, the smallest of the supported databases
# the tool's own tables: a contract may not define (and so overwrite or drop) them
RESERVED_TABLES = frozenset(
    {
        "app_xml",
        "processing_log",
        "processing_warning",
        "migration_run",
        "app_enums",
        "migration_lease",
        "xmlmigrate_perf_marker",
    }
)


def identifier_problem(name: object) -> str | None:
    """Why ``name`` cannot be a table or column name, or None when it can."""
    if not isinstance(name, str) or not name:
        return "a name must be a non-empty string"
    if len(name) > MAX_IDENTIFIER:
        return f"name is {len(name)} characters long, at most {MAX_IDENTIFIER} are allowed"
    if not IDENTIFIER.match(name):
        return (
            f"{name[:80]!r} is not a plain identifier (letters, digits and '_', not starting "
            "with a digit)"
        )
    return None


@cache
def _dialect(backend: str) -> Dialect:
    if backend == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.dialect()
    if backend == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.dialect()  # type: ignore[no-untyped-call]
    if backend in ("mysql", "mariadb"):
        from sqlalchemy.dialects import mysql

        return mysql.dialect()
    if backend == "mssql":
        from sqlalchemy.dialects import mssql

        return mssql.dialect()  # type: ignore[no-untyped-call]
    raise ValueError(f"no SQL dialect for {backend!r}")


def quote(backend: str, name: str) -> str:
    """``name`` quoted for ``backend`` (sqlite, postgresql, mysql, mariadb, mssql). Always
    quoted — the case SQLAlchemy's DDL gives a name is kept — and any quote character in it
    doubled, so a name can never end the identifier early."""
    return _dialect(backend).identifier_preparer.quote_identifier(name)


def column_list(backend: str, columns: Sequence[str]) -> str:
    return ", ".join(quote(backend, c) for c in columns)


def delete_app_sql(backend: str, table: str, key: str, mark: str = "?") -> str:
    """``DELETE FROM "t" WHERE "app_id" = ?``: an app's rows, gone from every child table by
    the foreign keys' ON DELETE CASCADE (run --changed replaces them)."""
    return f"DELETE FROM {quote(backend, table)} WHERE {quote(backend, key)} = {mark}"


def insert_sql(backend: str, table: str, columns: Sequence[str], mark: str = "?") -> str:
    """``INSERT INTO "t" ("a", "b") VALUES (?, ?)`` with every name quoted."""
    marks = ", ".join([mark] * len(columns))
    return f"INSERT INTO {quote(backend, table)} ({column_list(backend, columns)}) VALUES ({marks})"

"""Comparing tables: a target's rows and an oracle's, in one order (by primary key)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

Rows = dict[str, list[dict[str, Any]]]


def by_key(table: sa.Table, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` as dicts, sorted by ``table``'s primary key."""
    key = [c.name for c in table.primary_key.columns]
    return sorted((dict(r) for r in rows), key=lambda r: tuple(r[k] for k in key))


def table_rows(engine: sa.Engine, tables: Iterable[sa.Table]) -> Rows:
    """Every row of each table in the database, by table name, sorted by primary key."""
    with engine.connect() as conn:
        return {
            t.name: by_key(t, (dict(r._mapping) for r in conn.execute(sa.select(t))))
            for t in tables
        }


def expected_table_rows(
    tables: Iterable[sa.Table], rows: Iterable[Mapping[str, list[Any]]]
) -> Rows:
    """The oracle's rows (one mapping of table name → rows per document), as
    :func:`table_rows` returns a database's."""
    tables = list(tables)
    merged: dict[str, list[Any]] = {t.name: [] for t in tables}
    for document in rows:
        for name, table_rows_ in document.items():
            merged[name].extend(table_rows_)
    # a shared table's columns another contract maps are NULL in this one's rows
    return {
        t.name: by_key(t, ({c.name: r.get(c.name) for c in t.columns} for r in merged[t.name]))
        for t in tables
    }

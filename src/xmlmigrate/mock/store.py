"""Putting generated documents into ``app_xml`` (or each contract's own source table)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.db.schema import Schema
from xmlmigrate.mock.generator import GeneratedDoc


def next_app_id(engine: Engine, schema: Schema) -> int:
    """The first app id after the highest already in the source tables (1 for empty ones)."""
    top = 0
    with engine.connect() as conn:
        for src in schema.sources or (schema.source,):
            top = max(top, int(conn.execute(sa.select(sa.func.max(src.c.app_id))).scalar() or 0))
    return top + 1


def insert_documents(
    engine: Engine,
    schema: Schema,
    docs: Iterable[GeneratedDoc],
    chunk: int = 100,
    on_chunk: Callable[[int, int], None] | None = None,
    route: Sequence[sa.Table] = (),
) -> tuple[int, int]:
    """Insert documents in chunks (one transaction each); return (documents, bytes).
    ``route``: document ``i`` goes to ``route[i % len(route)]`` (a mixed corpus whose
    contracts read different source tables), else every one to ``schema.source``."""
    tables = list(route) or [schema.source]
    count = size = 0
    bufs: list[list[dict[str, object]]] = [[] for _ in tables]

    def flush() -> None:
        with engine.begin() as conn:
            for table, buf in zip(tables, bufs, strict=True):
                if buf:
                    conn.execute(sa.insert(table), buf)
                    buf.clear()
        if on_chunk is not None:
            on_chunk(count, size)

    for doc in docs:
        bufs[count % len(tables)].append({"app_id": doc.app_id, "xml": doc.xml})
        count += 1
        size += len(doc.xml.encode("utf-8"))
        if count % chunk == 0:
            flush()
    if any(bufs):
        flush()
    return count, size

"""Putting generated documents into ``app_xml``."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.mock.generator import GeneratedDoc
from xmlmigrate.schema import Schema


def next_app_id(engine: Engine, schema: Schema) -> int:
    """The first app id after the highest already in ``app_xml`` (1 for an empty table)."""
    with engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(schema.source.c.app_id))).scalar()
    return int(top or 0) + 1


def insert_documents(
    engine: Engine,
    schema: Schema,
    docs: Iterable[GeneratedDoc],
    chunk: int = 100,
    on_chunk: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Insert documents in chunks (one transaction each); return (documents, bytes)."""
    stmt = sa.insert(schema.source)
    count = size = 0
    buf: list[dict[str, object]] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(stmt, buf)
        if on_chunk is not None:
            on_chunk(count, size)
        buf.clear()

    for doc in docs:
        buf.append({"app_id": doc.app_id, "xml": doc.xml})
        count += 1
        size += len(doc.xml.encode("utf-8"))
        if len(buf) >= chunk:
            flush()
    if buf:
        flush()
    return count, size

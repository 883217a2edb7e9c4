"""Reading ``app_xml``: keyset pages by ``app_id`` (never OFFSET), skipping every app the log
already accounts for, optionally restricted to an id range or to one of N modulo partitions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.config import MigrationConfig
from xmlmigrate.model import RawRecord
from xmlmigrate.schema import Schema


def _document(column: sa.ColumnElement[str], engine: Engine) -> sa.ColumnElement[Any]:
    """The document as UTF-8 bytes where the database can hand them over as such: no decoding
    into a Python str only to encode it again for the parser (~0.5 ms per 250 KB document)."""
    name = engine.dialect.name
    if name == "sqlite":
        return sa.cast(column, sa.LargeBinary)  # CAST(x AS BLOB): the stored UTF-8 bytes
    if name == "postgresql":
        return sa.func.convert_to(column, "UTF8", type_=sa.LargeBinary)
    if name in ("mysql", "mariadb"):  # whatever the table's charset: UTF-8 bytes
        return sa.literal_column(
            f"CAST(CONVERT({column.table.name}.{column.key} USING utf8mb4) AS BINARY)",
            type_=sa.LargeBinary,
        )
    return column  # SQL Server hands NVARCHAR over as str


class TableSource:
    def __init__(self, engine: Engine, schema: Schema, config: MigrationConfig) -> None:
        self.engine = engine
        self.page_size = config.batch_size
        self.limit = config.limit
        self.queries = 0  # pages read: one query (one round trip) each
        src, log = schema.source, schema.log
        logged = sa.select(sa.literal(1)).where(log.c.app_id == src.c.app_id)
        if config.retry_failed:  # anything but a failure closes an app
            logged = logged.where(log.c.status != "failed")
        conditions: list[sa.ColumnElement[bool]] = [~logged.exists()]
        if config.app_id_start is not None:
            conditions.append(src.c.app_id >= config.app_id_start)
        if config.app_id_end is not None:
            conditions.append(src.c.app_id <= config.app_id_end)
        if config.modulo is not None:
            conditions.append(src.c.app_id % config.modulo == config.modulo_instance)
        self._pending = sa.and_(*conditions)
        self._src = src
        attempts = sa.select(sa.func.count()).where(log.c.app_id == src.c.app_id).scalar_subquery()
        self._as_bytes = engine.dialect.name in ("sqlite", "postgresql", "mysql", "mariadb")
        self._binary_pg = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._page = (
            sa.select(src.c.app_id, _document(src.c.xml, engine), (attempts + 1).label("attempt"))
            .where(src.c.app_id > sa.bindparam("after"), self._pending)
            .order_by(src.c.app_id)
            .limit(sa.bindparam("n"))
        )

    def pending_count(self) -> int:
        with self.engine.connect() as conn:
            n = int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(self._src).where(self._pending)
                ).scalar_one()
            )
        return n if self.limit is None else min(n, self.limit)

    def _fetch(self, params: dict[str, int]) -> Sequence[Any]:
        self.queries += 1
        with self.engine.connect() as conn:
            if self._binary_pg:
                # psycopg's binary result format: bytea arrives as bytes, not as hex text to
                # decode (measured 269 MB/s against 89 MB/s on realistic documents)
                compiled = self._page.compile(dialect=self.engine.dialect)
                raw = conn.connection.driver_connection
                with raw.cursor(binary=True) as cur:  # type: ignore[union-attr]
                    cur.execute(str(compiled), {**compiled.params, **params})
                    rows: Sequence[Any] = cur.fetchall()
                return rows
            return conn.execute(self._page, params).all()

    def pages(self) -> Iterator[list[RawRecord]]:
        after = -(2**31)  # below any INT key
        remaining = self.limit
        while remaining is None or remaining > 0:
            n = self.page_size if remaining is None else min(self.page_size, remaining)
            rows = self._fetch({"after": after, "n": n})
            if not rows:
                return
            page = [RawRecord(int(r[0]), r[1], int(r[2]), self._as_bytes) for r in rows]
            after = page[-1].app_id
            if remaining is not None:
                remaining -= len(page)
            yield page

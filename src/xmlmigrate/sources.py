"""Reading ``app_xml``: keyset pages by ``app_id``, skipping every app already in the log."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.model import RawRecord
from xmlmigrate.schema import Schema


class TableSource:
    def __init__(self, engine: Engine, schema: Schema, page_size: int, limit: int | None = None):
        self.engine = engine
        self.page_size = page_size
        self.limit = limit
        src, log = schema.source, schema.log
        done = sa.select(sa.literal(1)).where(log.c.app_id == src.c.app_id).exists()
        self._pending = ~done
        self._src = src
        self._page = (
            sa.select(src.c.app_id, src.c.xml)
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

    def pages(self) -> Iterator[list[RawRecord]]:
        after = -(2**63)
        remaining = self.limit
        while remaining is None or remaining > 0:
            n = self.page_size if remaining is None else min(self.page_size, remaining)
            with self.engine.connect() as conn:
                rows = conn.execute(self._page, {"after": after, "n": n}).all()
            if not rows:
                return
            page = [RawRecord(int(r[0]), r[1]) for r in rows]
            after = page[-1].app_id
            if remaining is not None:
                remaining -= len(page)
            yield page

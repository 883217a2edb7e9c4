"""Choose the bulk writer for an engine's dialect."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.base import BulkWriter


class UnsupportedDatabase(ValueError):
    pass


def open_writer(engine: Engine, contract: CompiledContract) -> BulkWriter:
    name = engine.dialect.name
    if name == "sqlite":
        from xmlmigrate.db.sqlite import SqliteWriter

        return SqliteWriter(engine, contract)
    raise UnsupportedDatabase(f"no bulk writer for {name!r} databases yet; supported: sqlite")

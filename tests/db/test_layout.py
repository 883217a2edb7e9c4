"""The one layout definition and what a server really creates from it agree: PostgreSQL's
binary COPY types, derived from the SQLAlchemy columns, are the types of the created columns."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from xmlmigrate.db import make_engine
from xmlmigrate.db.layout import insert_columns, pg_copy_type

from .conftest import SCHEMA


def test_copy_types_are_the_created_column_types(db_url: str) -> None:
    if not db_url.startswith("postgresql+psycopg"):
        pytest.skip("binary COPY is the psycopg writer's")
    engine = make_engine(db_url)
    query = sa.text(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(:table) AND a.attnum > 0 AND NOT a.attisdropped"
    )
    checked = 0
    with engine.connect() as conn:
        for table in (*SCHEMA.targets, SCHEMA.log, SCHEMA.warnings):
            created = {str(n): str(t) for n, t in conn.execute(query, {"table": table.name})}
            for name in insert_columns(table):
                assert pg_copy_type(table.c[name].type) == created[name], (table.name, name)
                checked += 1
    engine.dispose()
    assert checked > 100

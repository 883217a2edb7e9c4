"""A SQLite target whose app_xml holds generated documents: what many tests start from."""

from __future__ import annotations

from pathlib import Path

from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.mock import MockGenerator, insert_documents
from xmlmigrate.schema import build_schema


def sqlite_corpus(
    path: Path, count: int, seed: int = 3, profile: str = "small", edge_rate: float = 0.0
) -> str:
    """Create the schema in ``path``, load ``count`` documents; return the URL."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    schema = build_schema(load_contract())
    schema.create(engine)
    generator = MockGenerator(seed=seed, size_profile=profile, edge_rate=edge_rate)
    insert_documents(engine, schema, generator.generate(count))
    engine.dispose()
    return url

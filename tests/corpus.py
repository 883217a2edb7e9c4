"""A SQLite target whose app_xml holds generated documents: what many tests start from."""

from __future__ import annotations

from pathlib import Path

from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.mock import ContractGenerator, insert_documents


def sqlite_corpus(
    path: Path,
    count: int,
    seed: int = 3,
    profile: str = "small",
    edge_rate: float = 0.0,
    contract: Path | None = None,
) -> str:
    """Create the schema of ``contract`` (default: the shipped one) in ``path``, load
    ``count`` documents generated for it; return the URL."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    compiled = load_contract(contract)
    schema = build_schema(compiled)
    schema.create(engine)
    generator = ContractGenerator(compiled, seed, profile, 1, edge_rate)
    insert_documents(engine, schema, generator.generate(count))
    engine.dispose()
    return url

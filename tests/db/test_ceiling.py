"""The ratio ceiling's reading costs on each backend: a PostgreSQL server on this machine shares
its cores, and its backends' CPU for the reading is counted; where it cannot be (no server, no
backend pid) it is not."""

from __future__ import annotations

from tests.contracts import engine_generator
from tests.db.conftest import CONTRACT, SCHEMA

from xmlmigrate.bench.ceiling import measure_stage_costs
from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.mock import insert_documents


def test_a_local_servers_reading_cpu_is_counted(db_url: str) -> None:
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=9).generate(30))
    # the test servers are on 127.0.0.1; a backend's pid is known through psycopg
    local_server = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    engine.dispose()
    costs = measure_stage_costs(MigrationConfig(db_url=db_url), CONTRACT)
    assert costs.documents == 30
    if local_server:
        assert costs.read_server_ms is not None and costs.read_server_ms > 0
    else:  # SQLite has no server; through pyodbc the backend's pid is not known
        assert costs.read_server_ms is None

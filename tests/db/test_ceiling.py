"""The ratio ceiling's reading costs on each backend: a database server on this machine shares
its cores, and its CPU for the reading is counted; one elsewhere (or none) is not."""

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
    local_server = engine.dialect.name == "postgresql"  # the test servers are on 127.0.0.1
    engine.dispose()
    costs = measure_stage_costs(MigrationConfig(db_url=db_url), CONTRACT)
    assert costs.documents == 30
    if local_server:
        # measured in clock ticks: 30 small reads may take less than one
        assert costs.read_server_ms is not None and costs.read_server_ms >= 0
    else:  # SQLite has no server; MariaDB's server is one process, not one per connection
        assert costs.read_server_ms is None

"""The ratio ceiling: its arithmetic, and the stage costs it is made of, measured on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.contracts import ENGINE_CC, engine_contract
from tests.corpus import sqlite_corpus

from xmlmigrate.bench.ceiling import StageCosts, measure_stage_costs, shares_these_cores
from xmlmigrate.config import MigrationConfig


def _costs(server: float | None) -> StageCosts:
    return StageCosts(
        documents=10,
        read_wall_ms=1.0,
        read_client_ms=0.5,
        read_server_ms=server,
        parse_ms=2.0,
        check_ms=0.8,
        transform_ms=0.8,
    )


def test_the_ceiling_counts_the_server_only_when_it_shares_the_cores() -> None:
    local = _costs(0.5)
    assert local.reference_ms == pytest.approx(3.0)
    assert local.ceiling(2) == pytest.approx(2 * 3.0 / (0.5 + 0.5 + 0.8 + 0.8))
    # held to one core, the server works on another: only this process's CPU counts
    assert local.ceiling(1) == pytest.approx(3.0 / (0.5 + 0.8 + 0.8))
    assert _costs(None).ceiling(2) == pytest.approx(2 * 3.0 / (0.5 + 0.8 + 0.8))
    assert local.to_dict()["reference_ms"] == 3.0


def test_nothing_to_do_has_no_ceiling() -> None:
    free = StageCosts(0, 0.0, 0.0, None, 0.0, 0.0, 0.0)
    assert free.ceiling(1) == free.ceiling(2) == 0.0


def test_the_stage_costs_are_measured_on_the_documents_a_run_would_take(tmp_path: Path) -> None:
    url = sqlite_corpus(tmp_path / "c.db", 8, seed=4, contract=ENGINE_CC)
    contract = engine_contract()
    costs = measure_stage_costs(MigrationConfig(db_url=url, limit=5), contract)
    assert costs.documents == 5
    assert costs.read_server_ms is None  # SQLite: no server
    assert costs.parse_ms > 0 and costs.transform_ms > 0 and costs.check_ms >= 0
    assert costs.read_wall_ms > 0 and costs.ceiling(2) > 0
    assert measure_stage_costs(MigrationConfig(db_url=url, app_id_start=7), contract).documents == 2


def test_only_a_server_on_this_machine_shares_its_cores() -> None:
    assert shares_these_cores(sa.make_url("postgresql+psycopg://u@127.0.0.1/x"))
    assert shares_these_cores(sa.make_url("postgresql+psycopg://u@localhost:5433/x"))
    assert shares_these_cores(sa.make_url("postgresql+psycopg:///x"))  # the local socket
    assert not shares_these_cores(sa.make_url("postgresql+psycopg://u@db.invalid:1/x"))

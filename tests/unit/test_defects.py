"""Defects found in reading the code, each with the test that shows it fixed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from lxml import etree
from sqlalchemy.pool import Pool
from tests.contracts import ENGINE_CC, engine_contract
from tests.corpus import sqlite_corpus
from tests.hostile import contract_text
from tests.unit.test_cli import run_cli

from xmlmigrate.bench.speed import parse_only
from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import compile_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.ledger import WARNING_SUMMARY_LIMIT, log_rows
from xmlmigrate.model import Outcome, Warn, reason_group
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.stages.validate import document_app_id, parse_app_id

CONTRACT = engine_contract()


@pytest.mark.parametrize(
    ("text", "value"),
    [("42", 42), (" 42 ", 42), ("-3", -3), ("--5", None), ("²", None), ("4 2", None), ("", None)],
)
def test_app_ids_are_parsed_one_way(text: str, value: int | None) -> None:
    assert parse_app_id(text) == value
    root = etree.fromstring(f'<Provenir><Request ID="{text}"/></Provenir>'.encode())
    assert document_app_id(root, CONTRACT) == value  # coverage and explain use this too


def test_explain_finds_the_app_id_where_the_contract_says(tmp_path: Path) -> None:
    contract = tmp_path / "c.toml"
    contract.write_text(
        contract_text().replace('app_id = "Request/@ID"', 'app_id = "Request/@AppNumber"'),
        encoding="utf-8",
    )
    doc = tmp_path / "d.xml"
    doc.write_text(
        '<Provenir><Request AppNumber="77"><CustData><application campaign_num="X"/>'
        "</CustData></Request></Provenir>",
        encoding="utf-8",
    )
    out = run_cli("contract", "explain", str(contract), "--xml", str(doc))
    assert out.returncode == 0, out.stdout + out.stderr  # before: app id 0, app_id_mismatch
    assert "app_id=77" in out.stdout


def test_the_warning_summary_is_always_valid_json() -> None:
    warnings = tuple(Warn(f"code_{i:03d}_" + "x" * 30, "d") for i in range(60))
    (row,) = log_rows([Outcome(1, "success", warnings=warnings)], "run")
    assert row.warnings is not None and len(row.warnings) <= WARNING_SUMMARY_LIMIT
    assert isinstance(json.loads(row.warnings), dict)  # before: cut mid-string at 1,000


@pytest.mark.parametrize(
    ("reason", "group"),
    [
        ("malformed: Opening and ending tag mismatch: a line 1 and b", "malformed"),
        ("duplicate_key: app_contact_base {'con_id': 5} was already written", "duplicate_key"),
        (
            "IntegrityError: UNIQUE constraint failed: app_contact_base.con_id",
            ("IntegrityError: UNIQUE constraint failed: app_contact_base.con_id"),
        ),
        (
            "UniqueViolation: duplicate key value violates unique constraint 'pk' (x)",
            ("UniqueViolation: duplicate key value violates unique constraint"),
        ),
    ],
)
def test_run_and_status_group_reasons_the_same_way(reason: str, group: str) -> None:
    assert reason_group(reason) == group


def test_no_pipelined_runs_report_the_workers_memory(tmp_path: Path) -> None:
    url = sqlite_corpus(tmp_path / "w.db", 12, seed=2, contract=ENGINE_CC)
    stats = run_migration(
        MigrationConfig(db_url=url, workers=2, pipelined=False, batch_size=4), CONTRACT
    )
    assert stats.records == 12 and stats.peak_rss_mb.get("worker", 0) > 0


def test_the_parse_only_reference_reads_what_the_run_would(tmp_path: Path) -> None:
    url = sqlite_corpus(tmp_path / "p.db", 10, seed=2, contract=ENGINE_CC)
    assert parse_only(MigrationConfig(db_url=url, limit=3))[0] == 3
    assert parse_only(MigrationConfig(db_url=url, app_id_start=9))[0] == 2
    assert parse_only(MigrationConfig(db_url=url, modulo=2, modulo_instance=1))[0] == 5


def test_compiled_tables_carry_no_dead_fields() -> None:
    table = compile_contract(contract_text(), "c.toml").tables[0]
    assert not hasattr(table, "deferred_defaults")


def test_sql_statements_exclude_page_reads_on_every_backend(tmp_path: Path) -> None:
    """Page reads are ``source_queries`` (counted through SQLAlchemy on SQLite, through a raw
    cursor on PostgreSQL): the probe's ``sql_statements`` must not count them on one backend
    only. So the count does not depend on how many pages a run reads."""
    from xmlmigrate.bench.probe import BackendTracker

    url = sqlite_corpus(tmp_path / "s.db", 30, seed=4, contract=ENGINE_CC)
    schema = build_schema(CONTRACT)
    track = BackendTracker()
    track.install()
    counts = {}
    try:
        for batch in (3, 30):
            engine = make_engine(url)
            with engine.begin() as conn:  # start over: the same 30 apps pending
                conn.execute(schema.log.delete())
                conn.execute(schema.root.delete())
            engine.dispose()
            before = track.statements
            stats = run_migration(
                MigrationConfig(db_url=url, batch_size=batch, workers=0), CONTRACT
            )
            counts[batch] = (track.statements - before, stats.source_queries)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", track._on_execute)
        for name, fn in (
            ("connect", track._on_connect),
            ("close", track._on_close),
            ("close_detached", track._on_close_detached),
        ):
            sa.event.remove(Pool, name, fn)
    assert counts[3][1] > counts[30][1]  # ten pages against one
    assert counts[3][0] == counts[30][0]

"""Contracts come from users: hostile names and expressions are refused with a located, one-line
error before anything touches a database, and plain names that are SQL keywords still work
because every statement quotes them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.hostile import (
    HOSTILE_NAMES,
    RESERVED_NAMES,
    contract_text,
    keyword_contract,
)
from tests.unit.test_cli import run_cli

from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import compile_contract
from xmlmigrate.contract.errors import ContractError
from xmlmigrate.db import make_engine
from xmlmigrate.db.postgres import _copy_sql
from xmlmigrate.db.schema import build_schema
from xmlmigrate.errors import EXIT_USAGE
from xmlmigrate.identifiers import insert_sql, quote
from xmlmigrate.mock import default_generator, insert_documents
from xmlmigrate.run.pipeline import run_migration


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:30])
def test_a_hostile_column_name_is_refused_naming_the_table_and_column(name: str) -> None:
    with pytest.raises(ContractError) as info:
        compile_contract(contract_text(columns=(name,)), "c.toml")
    message = str(info.value)
    assert "table 'app_base'" in message and "column " in message
    assert "invalid column name" in message
    assert "\n" not in message and len(message) < 400


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:30])
def test_a_hostile_table_name_is_refused(name: str) -> None:
    with pytest.raises(ContractError, match="invalid table name"):
        compile_contract(contract_text(child=name), "c.toml")


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_the_tools_own_tables_cannot_be_defined_by_a_contract(name: str) -> None:
    with pytest.raises(ContractError, match="is a table of the tool itself"):
        compile_contract(contract_text(child=name), "c.toml")


def test_names_equal_but_for_case_are_refused() -> None:
    with pytest.raises(ContractError, match="same name to a database"):
        compile_contract(contract_text(columns=("Amount", "amount")), "c.toml")
    with pytest.raises(ContractError, match="same name to a database"):
        compile_contract(contract_text(root="Apps", child="apps"), "c.toml")


def test_contract_check_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "evil.toml"
    path.write_text(contract_text(columns=(HOSTILE_NAMES[0],)), encoding="utf-8")
    out = run_cli("contract", "check", str(path))
    assert out.returncode == EXIT_USAGE
    assert out.stderr.count("\n") == 1 and "invalid column name" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("name", HOSTILE_NAMES[:3])
def test_a_run_with_a_hostile_contract_creates_nothing(tmp_path: Path, name: str) -> None:
    db = tmp_path / "t.db"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    source_only = build_schema(keyword_contract())
    source_only.source.create(engine)
    insert_documents(engine, source_only, default_generator(seed=1).generate(3))
    before = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    path = tmp_path / "evil.toml"
    path.write_text(contract_text(columns=(name,)), encoding="utf-8")
    out = run_cli("run", "--db", url, "--contract", str(path), "-q")
    assert out.returncode == EXIT_USAGE and "Traceback" not in out.stderr
    with sqlite3.connect(db) as conn:
        after = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert after == before and "injected" not in after


def test_every_statement_quotes_names_in_the_dialects_way() -> None:
    assert insert_sql("sqlite", "order", ["group", "a"]) == (
        'INSERT INTO "order" ("group", "a") VALUES (?, ?)'
    )
    assert quote("mysql", "order") == "`order`"
    assert quote("mssql", "order") == "[order]"
    assert quote("postgresql", 'a"b') == '"a""b"'  # a quote in a name can never end it early
    assert _copy_sql("Select", ["from"]) == ('COPY "Select" ("from") FROM STDIN (FORMAT BINARY)')


def test_sql_keywords_as_names_run_end_to_end_on_sqlite(tmp_path: Path) -> None:
    contract = keyword_contract()
    url = f"sqlite:///{tmp_path / 'k.db'}"
    schema = build_schema(contract)
    engine = make_engine(url)
    docs = list(default_generator(seed=5, size_profile="small", edge_rate=0.0).generate(20))
    schema.create(engine)
    insert_documents(engine, schema, docs)
    stats = run_migration(MigrationConfig(db_url=url, workers=0), contract)
    assert stats.success == 20, stats.reasons
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        n, filled = conn.execute(sa.text('SELECT count(*), count("group") FROM "order"')).one()
        m = conn.execute(sa.text('SELECT count(*) FROM "Select"')).scalar()
    engine.dispose()
    assert n == 20 and filled > 0 and m > 0 and m == stats.rows_per_table["Select"]
    assert tables - {t.name for t in schema.metadata.sorted_tables} == set()

"""The perf suite (the xmlmigrate pytest plugin) on a database the user names with --db-url:
it refuses every table it would create that it did not create itself — empty or not, whatever
its columns — leaves such tables exactly as they were, and at the end drops what it made
(unless --perf-keep), on each backend."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.testing.plugin import ALLOW_RESET, prepare_target

from .conftest import drop_every_table, target_url

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = build_schema(load_contract())  # the perf suite's contract: provenir_cc
USER_TABLES = ("indicators", "processing_log", "scores")  # names the suite's tables have too
BACKENDS = ("sqlite", "postgresql+psycopg", "mysql+pyodbc")


def _user_ddl(dialect: str) -> list[str]:
    """The user's own empty tables: their columns, a CHECK, an index, a comment."""
    comment = {
        "postgresql": ["COMMENT ON TABLE scores IS 'credit scores, kept by the risk team'"],
        "mysql": ["ALTER TABLE scores COMMENT = 'credit scores, kept by the risk team'"],
    }.get(dialect, [])
    return [
        "CREATE TABLE scores (score_id INTEGER PRIMARY KEY, customer VARCHAR(40) NOT NULL, "
        "score INTEGER, CONSTRAINT ck_score_range CHECK (score BETWEEN 300 AND 850))",
        "CREATE INDEX ix_scores_customer ON scores (customer)",
        "CREATE TABLE indicators (code VARCHAR(10) PRIMARY KEY, active SMALLINT NOT NULL, "
        "CONSTRAINT ck_active CHECK (active IN (0, 1)))",
        "CREATE TABLE processing_log (entry_id INTEGER PRIMARY KEY, message VARCHAR(200) NOT NULL)",
        "CREATE INDEX ix_processing_log_message ON processing_log (message)",
        *comment,
    ]


def _snapshot(engine: sa.Engine) -> dict[str, Any]:
    """Everything the inspector says about the database's tables, and each backend's own
    identity of a table (dropped and recreated alike, it would differ)."""
    inspector = sa.inspect(engine)
    names = sorted(inspector.get_table_names())
    out: dict[str, Any] = {"tables": names}
    for name in names:
        out[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(name)
            ],
            "pk": inspector.get_pk_constraint(name),
            "indexes": sorted(
                (str(i["name"]), tuple(map(str, i["column_names"])), bool(i["unique"]))
                for i in inspector.get_indexes(name)
            ),
            "checks": sorted(str(c["sqltext"]) for c in inspector.get_check_constraints(name)),
            "comment": inspector.get_table_comment(name).get("text")
            if engine.dialect.name != "sqlite"
            else None,
        }
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            out["identity"] = conn.execute(
                sa.text("SELECT name, rootpage, sql FROM sqlite_master ORDER BY name")
            ).all()
        elif engine.dialect.name == "postgresql":
            out["identity"] = conn.execute(
                sa.text(
                    "SELECT relname, oid::bigint FROM pg_class WHERE relnamespace = "
                    "'public'::regnamespace ORDER BY relname"
                )
            ).all()
        else:
            out["identity"] = [
                tuple(conn.execute(sa.text(f"SHOW CREATE TABLE {n}")).one()) for n in names
            ]
    return out


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend (this worker's own, every table dropped)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url(request.param, worker, tmp_path)
    engine = make_engine(url)
    drop_every_table(engine)
    engine.dispose()
    yield url
    engine = make_engine(url)
    drop_every_table(engine)
    engine.dispose()


def _with_users_tables(url: str) -> tuple[sa.Engine, dict[str, Any]]:
    engine = make_engine(url)
    with engine.begin() as conn:
        for statement in _user_ddl(engine.dialect.name):
            conn.execute(sa.text(statement))
    snapshot = _snapshot(engine)
    assert snapshot["tables"] == list(USER_TABLES)
    assert snapshot["scores"]["checks"] and snapshot["scores"]["indexes"]
    return engine, snapshot


def _perf_suite(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``pytest tests/perf/test_end_to_end.py --db-url URL``, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "XMLMIGRATE_"))}
    command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider"]
    command += ["-q", "tests/perf/test_end_to_end.py", "--db-url", url]
    command += ["--perf-records", "3", "--perf-rounds", "1", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )


def test_users_empty_tables_sharing_names_are_refused_and_left_alone(empty_url: str) -> None:
    engine, before = _with_users_tables(empty_url)
    with pytest.raises(pytest.UsageError) as info:
        prepare_target(engine, SCHEMA, allow_reset=False)
    message = str(info.value)
    assert "\n" not in message and ALLOW_RESET in message
    assert all(name in message for name in USER_TABLES), message
    # before: dropped and recreated as the suite's tables (columns, CHECK, index, comment gone)
    assert _snapshot(engine) == before
    engine.dispose()


def test_the_perf_suite_refuses_them_in_one_line_and_changes_nothing(empty_url: str) -> None:
    engine, before = _with_users_tables(empty_url)
    out = _perf_suite(empty_url)
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    lines = [line for line in text.splitlines() if all(n in line for n in USER_TABLES)]
    assert len(lines) == 1 and ALLOW_RESET in lines[0], text
    assert "Traceback" not in text and "UsageError" not in text, text
    assert _snapshot(engine) == before
    engine.dispose()


def test_a_run_on_an_empty_database_leaves_nothing_behind(empty_url: str) -> None:
    out = _perf_suite(empty_url)
    assert out.returncode == 0, out.stdout + out.stderr
    engine = make_engine(empty_url)
    # before: 16 tool tables, the marker and the corpus stayed
    assert sa.inspect(engine).get_table_names() == []
    kept = _perf_suite(empty_url, "--perf-keep")  # the user asked to keep them
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert set(SCHEMA.metadata.tables) < set(sa.inspect(engine).get_table_names())
    again = _perf_suite(empty_url)  # the suite's own tables: taken again, then dropped
    assert again.returncode == 0, again.stdout + again.stderr
    assert sa.inspect(engine).get_table_names() == []
    engine.dispose()


def test_users_tables_beside_the_suites_own_are_never_dropped(empty_url: str) -> None:
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (customer_id INTEGER PRIMARY KEY)"))
    out = _perf_suite(empty_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sa.inspect(engine).get_table_names() == ["customers"]
    engine.dispose()

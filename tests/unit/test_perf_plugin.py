"""The perf suite's fixtures never destroy data they did not create, and measure the target the
user names instead of servers of their own choosing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.mock import default_generator, insert_documents
from xmlmigrate.testing.plugin import ALLOW_RESET, MARKER_TABLE, prepare_target, release_target

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = build_schema(load_contract())


def _user_database(path: Path, documents: int = 50) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    SCHEMA.create(engine)
    insert_documents(
        engine, SCHEMA, default_generator(seed=50, size_profile="small").generate(documents)
    )
    engine.dispose()
    return url


def _documents(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM app_xml").fetchone()[0])


def test_a_target_holding_someone_elses_documents_is_refused(tmp_path: Path) -> None:
    url = _user_database(tmp_path / "user.db")
    engine = make_engine(url)
    with pytest.raises(pytest.UsageError, match=r"app_xml \(50 rows\).*--perf-allow-reset"):
        prepare_target(engine, SCHEMA, allow_reset=False)
    assert _documents(tmp_path / "user.db") == 50  # before: silently replaced by mock ones
    prepare_target(engine, SCHEMA, allow_reset=True)  # the user said so
    assert _documents(tmp_path / "user.db") == 0
    engine.dispose()


def test_a_target_the_suite_made_is_reused_and_an_empty_one_is_taken(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'mine.db'}")
    prepare_target(engine, SCHEMA, allow_reset=False)  # empty: taken, and marked
    insert_documents(engine, SCHEMA, default_generator(seed=1, size_profile="small").generate(3))
    prepare_target(engine, SCHEMA, allow_reset=False)  # marked: the suite's own, emptied
    assert _documents(tmp_path / "mine.db") == 0
    with sqlite3.connect(tmp_path / "mine.db") as conn:
        assert conn.execute(f"SELECT count(*) FROM {MARKER_TABLE}").fetchone()[0] >= 1
    engine.dispose()


def _tables(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))


def test_a_recorded_table_someone_replaced_is_refused_and_never_dropped(tmp_path: Path) -> None:
    path = tmp_path / "mine.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare_target(engine, SCHEMA, allow_reset=False)
    with sqlite3.connect(path) as conn:  # the user's own table where the suite's was
        conn.executescript("DROP TABLE scores; CREATE TABLE scores (risk_id INTEGER PRIMARY KEY)")
    with pytest.raises(pytest.UsageError, match=r"did not create: scores \(empty\);"):
        prepare_target(engine, SCHEMA, allow_reset=False)
    dropped = release_target(engine)
    assert "scores" not in dropped and "app_xml" in dropped
    assert set(_tables(path)) == {"scores", MARKER_TABLE}  # the marker still names it
    assert "risk_id" in _tables(path)["scores"]
    engine.dispose()


def test_an_earlier_versions_marker_vouches_only_for_tables_of_the_suites_layout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    SCHEMA.create(engine)  # what the suite made before it recorded its tables
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE {MARKER_TABLE} (created_at DATETIME NOT NULL)")
    prepare_target(engine, SCHEMA, allow_reset=False)  # taken: every table has its layout
    release_target(engine)
    assert _tables(path) == {}
    SCHEMA.create(engine)
    with sqlite3.connect(path) as conn:
        conn.executescript(
            f"CREATE TABLE {MARKER_TABLE} (created_at DATETIME NOT NULL);"
            "DROP TABLE indicators; CREATE TABLE indicators (flag TEXT CHECK (flag <> ''))"
        )
    before = _tables(path)
    with pytest.raises(pytest.UsageError, match=r"did not create: indicators \(empty\);"):
        prepare_target(engine, SCHEMA, allow_reset=False)
    assert _tables(path) == before
    engine.dispose()


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "XMLMIGRATE_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )


def test_the_perf_suite_refuses_a_users_database_and_leaves_it_alone(tmp_path: Path) -> None:
    url = _user_database(tmp_path / "user.db")
    out = _pytest(
        "tests/perf/test_targets.py", "--db-url", url, "--perf-records", "3", "--benchmark-disable"
    )
    assert out.returncode != 0 and ALLOW_RESET in out.stdout + out.stderr
    assert _documents(tmp_path / "user.db") == 50


def test_targets_honour_db_url_instead_of_fixed_servers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    listed = _pytest("tests/perf/test_targets.py", "--db-url", url, "--collect-only", "-q")
    tests = [line for line in listed.stdout.splitlines() if "::" in line]
    assert tests and all("[--db-url]" in t for t in tests), listed.stdout
    default = _pytest("tests/perf/test_targets.py", "--collect-only", "-q")
    assert "postgresql" in default.stdout  # without --db-url: each local server


def test_the_perf_gate_may_reset_its_own_side_databases(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from xmlmigrate.bench.probe import ALLOW_RESET_ENV
    from xmlmigrate.testing.plugin import allow_reset

    config: Any = SimpleNamespace(getoption=lambda _name: False)
    monkeypatch.delenv(ALLOW_RESET_ENV, raising=False)
    assert allow_reset(config) is False
    monkeypatch.setenv(ALLOW_RESET_ENV, "1")  # what the gate sets for <db>_base and <db>_head
    assert allow_reset(config) is True

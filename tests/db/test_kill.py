"""Kill test: a run killed with SIGKILL at random moments, resumed each time, ends with exactly
the tables a clean single run produces — nothing lost, nothing duplicated, nothing half-written."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from tests.contracts import ENGINE_CC, engine_generator

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.ledger import ledger_problems, reset_target
from xmlmigrate.mock import insert_documents
from xmlmigrate.run.pipeline import run_migration

from .conftest import CONTRACT, SCHEMA

KILLS = 10
DOCUMENTS = 300
BATCH = 10


def checksums(engine: sa.Engine) -> dict[str, str]:
    """Per-table digest of every row (sorted), plus each app's final outcome."""
    out = {}
    with engine.connect() as conn:
        for table in SCHEMA.targets:
            rows = sorted(repr(tuple(r)) for r in conn.execute(sa.select(table)))
            out[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        log = SCHEMA.log
        outcomes = sorted(
            repr((r.app_id, r.status)) for r in conn.execute(sa.select(log.c.app_id, log.c.status))
        )
        out["outcomes"] = hashlib.sha256("\n".join(outcomes).encode()).hexdigest()
    return out


def pending(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        done = conn.execute(sa.select(sa.func.count()).select_from(SCHEMA.log)).scalar_one()
    return DOCUMENTS - int(done)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_a_clean_run(db_url: str) -> None:
    if db_url.startswith("mysql"):
        pytest.skip("the kill test runs on SQLite and PostgreSQL (psycopg and pyodbc paths)")
    engine = make_engine(db_url)
    docs = list(engine_generator(seed=99, size_profile="small", edge_rate=0.05).generate(DOCUMENTS))
    insert_documents(engine, SCHEMA, docs)

    started = time.perf_counter()
    reference = run_migration(MigrationConfig(db_url=db_url, batch_size=BATCH), CONTRACT)
    single_run = time.perf_counter() - started
    assert reference.records == DOCUMENTS
    want = checksums(engine)
    reset_target(engine, SCHEMA)
    assert pending(engine) == DOCUMENTS

    rng = random.Random(20161125)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "xmlmigrate.cli",
        "run",
        "--contract",
        str(ENGINE_CC),
        "--db",
        db_url,
        "--batch-size",
        str(BATCH),
        "-q",
    ]
    kills = attempts = 0
    while kills < KILLS and attempts < 60:
        attempts += 1
        before = pending(engine)
        if before == 0:
            reset_target(engine, SCHEMA)  # finished before we got our kills: start over
            before = DOCUMENTS
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.4, 0.4 + 1.5 * single_run))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        # after every kill the ledger must still be consistent: whole batches or nothing
        assert ledger_problems(engine, SCHEMA) == [], f"after kill {kills}"
    assert kills >= KILLS, f"only {kills} kills landed mid-run in {attempts} attempts"

    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert pending(engine) == 0
    assert checksums(engine) == want
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()

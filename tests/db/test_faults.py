"""Faults on live servers: SQL keywords as contract names, the run lease across processes, and
a connection lost mid-run (no app is logged for what no document caused)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.contracts import ENGINE_CC, engine_generator
from tests.hostile import HOSTILE_NAMES, KEYWORD_TABLES, contract_text, keyword_contract

from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract.errors import ContractError
from xmlmigrate.db import LogRow, make_engine, open_writer
from xmlmigrate.db.lease import Lease, Partition, fence_sql
from xmlmigrate.db.schema import build_schema
from xmlmigrate.errors import (
    EXIT_LEASE_BUSY,
    EXIT_OK,
    InfrastructureError,
    LeaseBusy,
    LeaseLost,
)
from xmlmigrate.ledger import ledger_problems
from xmlmigrate.mock import insert_documents
from xmlmigrate.model import RunStats
from xmlmigrate.run.pipeline import run_migration

from .conftest import CONTRACT, SCHEMA


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_keyword_names_run_and_hostile_ones_create_nothing(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    before = _tables(engine)
    for name in HOSTILE_NAMES[:4]:
        path = tmp_path / "evil.toml"
        path.write_text(contract_text(columns=(name,)), encoding="utf-8")
        with pytest.raises(ContractError):
            run_migration(MigrationConfig(db_url=db_url, contracts=(path,)))
    assert _tables(engine) == before
    keywords = keyword_contract()
    schema = build_schema(keywords)
    schema.metadata.drop_all(engine)
    schema.create(engine)
    docs = list(engine_generator(seed=8, size_profile="small", edge_rate=0.0).generate(15))
    insert_documents(engine, schema, docs)
    stats = run_migration(MigrationConfig(db_url=db_url, batch_size=4), keywords)
    assert stats.success == 15, stats.reasons
    root, child = (schema.metadata.tables[t] for t in KEYWORD_TABLES)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(root)).scalar_one() == 15
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(child)).scalar_one()
            == (stats.rows_per_table[KEYWORD_TABLES[1]])
        )
    new = {t.lower() for t in _tables(engine) - before}
    assert new <= {t.name.lower() for t in schema.metadata.sorted_tables}
    schema.metadata.drop_all(engine)
    engine.dispose()


def test_leases_refuse_overlap_and_let_disjoint_partitions_run(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: its lease is the whole file (tests/unit/test_faults)")
    engine = make_engine(db_url)
    table = SCHEMA.lease
    first = Lease(engine, table, Partition(modulo=2, instance=0), "a" * 32).__enter__()
    try:
        with pytest.raises(LeaseBusy, match="overlaps"):
            Lease(engine, table, Partition(), "b" * 32).__enter__()
        with pytest.raises(LeaseBusy, match="overlaps"):
            Lease(
                engine, table, Partition(start=10, end=10, modulo=4, instance=2), "c" * 32
            ).__enter__()
        with Lease(engine, table, Partition(modulo=2, instance=1), "d" * 32):
            pass  # disjoint: runs side by side
        with Lease(engine, table, Partition(start=11, end=11), "e" * 32):
            pass  # 11 is odd: not in the first run's partition
    finally:
        first.release()
    with Lease(engine, table, Partition(), "f" * 32):
        pass  # released: free again
    engine.dispose()


def test_a_lease_dies_with_its_run(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite: a flock, released by the kernel with the process")
    engine = make_engine(db_url)
    script = (
        "import os, sys\n"
        "from xmlmigrate.db import make_engine\n"
        "from xmlmigrate.db.lease import Lease, Partition\n"
        "from xmlmigrate.db.schema import build_schema\n"
        "from xmlmigrate.contract import load_contract\n"
        "e = make_engine(sys.argv[1])\n"
        "Lease(e, build_schema(load_contract()).lease, Partition(), 'ab' * 16).__enter__()\n"
        "os._exit(9)  # like SIGKILL: no release, the connection just drops\n"
    )
    subprocess.run([sys.executable, "-c", script, db_url], check=False, timeout=60)
    with engine.connect() as conn:  # the dead run's row is still there ...
        assert conn.execute(sa.select(sa.func.count()).select_from(SCHEMA.lease)).scalar_one() == 1
    with Lease(engine, SCHEMA.lease, Partition(), "c" * 32):  # ... but its lock is gone
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(sa.select(SCHEMA.lease.c.run_id))]
        assert ids == ["c" * 32]  # swept
    engine.dispose()


def test_two_runs_at_once_process_every_app_exactly_once(db_url: str) -> None:
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=4, size_profile="small").generate(120))
    env = {**os.environ, "COLUMNS": "120"}
    command = [sys.executable, "-m", "xmlmigrate", "run", "--contract", str(ENGINE_CC)]
    command += ["--db", db_url, "-q"]
    runs = [
        subprocess.Popen(
            [*command, "--batch-size", "5", "--workers", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in runs]
    codes = sorted(code for code, _ in results)
    # the first run takes everything; the second is refused (or, started after it ended,
    # finds nothing to do) — before, both processed every app
    assert codes[0] in (EXIT_OK, 1) and codes[1] in (EXIT_OK, 1, EXIT_LEASE_BUSY), results
    with engine.connect() as conn:
        log = SCHEMA.log
        logged = conn.execute(sa.select(sa.func.count()).select_from(log)).scalar_one()
        distinct = conn.execute(sa.select(sa.func.count(sa.distinct(log.c.app_id)))).scalar_one()
    assert logged == distinct == 120
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()


def test_a_lost_connection_stops_the_run_and_logs_no_app(db_url: str) -> None:
    if not db_url.startswith("postgresql+psycopg"):
        pytest.skip("terminates its own backends through pg_terminate_backend")
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=5, size_profile="small").generate(80))
    database = engine.url.database
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def cut(stats: RunStats, done: int) -> None:
        if stats.batches == 2:  # the server drops every connection of the run
            with admin.connect() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :d AND pid <> pg_backend_pid()"
                    ),
                    {"d": database},
                )

    with pytest.raises(InfrastructureError, match="the database failed while writing"):
        run_migration(
            MigrationConfig(db_url=db_url, batch_size=10, workers=0), CONTRACT, on_batch=cut
        )
    admin.dispose()
    engine.dispose()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(
                sa.select(SCHEMA.log.c.status, sa.func.count()).group_by(SCHEMA.log.c.status)
            ).all()
        )
    assert "failed" not in statuses or statuses["failed"] <= 2  # duplicate con_ids only
    assert sum(statuses.values()) == 20  # the two batches before the cut
    resumed = run_migration(MigrationConfig(db_url=db_url, batch_size=10, workers=0), CONTRACT)
    assert resumed.records == 60 and ledger_problems(engine, SCHEMA) == []
    engine.dispose()


def _drop_session(engine: sa.Engine, lease: Lease) -> None:
    """The server closes the lease's connection (a network cut, a failover): its session lock
    goes, its row stays until a claim sweeps it."""
    conn = lease.connection
    assert conn is not None
    postgres = engine.dialect.name == "postgresql"
    sql = "SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()"
    session = int(conn.execute(sa.text(sql)).scalar_one())
    conn.rollback()
    admin = make_engine(engine.url)
    with admin.connect() as other:
        if postgres:
            other.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": session})
        else:
            other.execute(sa.text(f"KILL {session}"))  # an id the server gave: an int
        other.commit()
    admin.dispose()


def _claim(engine: sa.Engine, run_id: str) -> Lease:
    """A twin's claim, retried while the server is still ending the dropped session."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return Lease(engine, SCHEMA.lease, Partition(), run_id).__enter__()
        except LeaseBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _log_row(app_id: int, run_id: str) -> LogRow:
    return LogRow(
        app_id, run_id, 1, "success", None, None, None, None, datetime(2026, 1, 2, 3, 4, 5)
    )


ZOMBIE = "a" * 32  # the run id of a run about to lose its lease


def _leased(db_url: str) -> tuple[sa.Engine, Lease]:
    """A server target and the lease of run ZOMBIE on every app."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite: one writer holds the file lock; there is no twin to fence out")
    engine = make_engine(db_url)
    return engine, Lease(engine, SCHEMA.lease, Partition(), ZOMBIE).__enter__()


def test_a_run_that_lost_its_lease_cannot_write(db_url: str) -> None:
    engine, zombie = _leased(db_url)
    zombie_id = ZOMBIE
    writer = open_writer(engine, CONTRACT, fence=zombie_id)
    try:
        writer.write([], [_log_row(1, zombie_id)])
        _drop_session(engine, zombie)
        writer.write([], [_log_row(2, zombie_id)])  # nobody took its apps over yet
        twin = _claim(engine, "c" * 32)  # sweeps the dead lease's row ...
        try:
            with pytest.raises(LeaseLost, match="lost its lease"):  # ... and fences it out
                writer.write([], [_log_row(3, zombie_id)])
        finally:
            twin.release()
    finally:
        writer.close()
        zombie.release()
    with engine.connect() as conn:
        logged = sorted(r[0] for r in conn.execute(sa.select(SCHEMA.log.c.app_id)))
    assert logged == [1, 2]
    engine.dispose()


def test_a_batch_in_flight_holds_off_the_claim_that_sweeps_its_lease(db_url: str) -> None:
    engine, zombie = _leased(db_url)
    zombie_id = ZOMBIE
    _drop_session(engine, zombie)
    batch = engine.connect()  # the zombie's batch transaction, fence taken
    fence = sa.text(fence_sql(engine.dialect.name, ":r"))
    assert batch.execute(fence, {"r": zombie_id}).first() is not None
    claimed: list[BaseException | None] = []

    def twin() -> None:
        try:
            _claim(engine, "c" * 32).release()
            claimed.append(None)
        except BaseException as exc:  # reported by the assertion below
            claimed.append(exc)

    thread = threading.Thread(target=twin)
    thread.start()
    time.sleep(1.5)
    assert thread.is_alive() and not claimed  # the sweep waits for the batch to commit
    batch.commit()
    thread.join(60)
    assert claimed == [None]
    assert batch.execute(fence, {"r": zombie_id}).first() is None  # a next batch: lease lost
    batch.close()
    zombie.release()
    engine.dispose()

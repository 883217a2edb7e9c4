"""Lock waits on live servers: a run's reads end their transactions (an ``ALTER TABLE`` during
a run goes through), every lock wait is bounded by ``--lock-timeout`` with a line naming the
session in the way, and a claim never waits without limit behind a stuck run or claimer."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from tests.contracts import ENGINE_CC, engine_generator

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.db.lease import MUTEX_KEY, fence_sql, mutex_name
from xmlmigrate.errors import EXIT_INFRASTRUCTURE, EXIT_LEASE_BUSY
from xmlmigrate.ledger import ledger_problems
from xmlmigrate.mock import insert_documents
from xmlmigrate.model import RunStats
from xmlmigrate.run.pipeline import run_migration

from .conftest import CONTRACT, SCHEMA


@pytest.fixture
def server_url(db_url: str) -> Iterator[str]:
    """A server target holding 60 small documents."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has no sessions to wait for: one writer holds the file lock")
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=21, size_profile="small").generate(60))
    engine.dispose()
    yield db_url


def _postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _idle_in_transaction(admin: sa.Connection) -> list[str]:
    """Sessions of this database (but ``admin``'s) sitting in an open transaction. On MariaDB
    INNODB_TRX is server-wide: without the ``DB`` filter a parallel test worker's deliberately
    held transaction in its own database showed up here."""
    if admin.dialect.name == "postgresql":
        rows = admin.execute(
            sa.text(
                "SELECT pid, left(query, 60) FROM pg_stat_activity WHERE datname = "
                "current_database() AND state = 'idle in transaction' "
                "AND pid <> pg_backend_pid()"
            )
        ).all()
    else:
        rows = admin.execute(
            sa.text(
                "SELECT p.ID, p.COMMAND FROM information_schema.INNODB_TRX t "
                "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
                "WHERE p.ID <> CONNECTION_ID() AND p.COMMAND = 'Sleep' AND p.DB = DATABASE()"
            )
        ).all()
    admin.rollback()
    return [f"{a}: {b}" for a, b in rows]


def test_between_batches_no_connection_of_the_run_holds_a_transaction(server_url: str) -> None:
    """Before: on psycopg the reader's page query left the lease connection *idle in
    transaction* for the whole run, holding AccessShareLock on app_xml and processing_log."""
    admin_engine = make_engine(server_url)
    seen: list[list[str]] = []
    with admin_engine.connect() as admin:

        def look(stats: RunStats, _done: int) -> None:
            seen.append(_idle_in_transaction(admin))

        config = MigrationConfig(db_url=server_url, batch_size=10, workers=0, pipelined=False)
        stats = run_migration(config, CONTRACT, on_batch=look)
    admin_engine.dispose()
    assert stats.records == 60 and len(seen) == 6
    assert seen == [[]] * 6


def _alter_sql(engine: sa.Engine) -> tuple[str, str]:
    """A bounded wait for the ALTER itself (the test must end), and docs/architecture.md's kind of
    upgrade step: a column added to processing_log."""
    if _postgres(engine):
        return "SET lock_timeout = '20s'", "ALTER TABLE processing_log ADD COLUMN note_x INTEGER"
    return (
        "SET SESSION lock_wait_timeout = 20",
        "ALTER TABLE processing_log ADD COLUMN note_x INTEGER",
    )


def test_an_alter_table_during_a_run_goes_through_and_the_run_finishes(server_url: str) -> None:
    """Before: the ALTER queued behind the reader's idle transaction, the writer queued behind
    the ALTER, and nothing moved (here: the ALTER gave up after its own 20 s)."""
    engine = make_engine(server_url)
    bound, alter = _alter_sql(engine)
    outcome: list[BaseException | float] = []

    def upgrade() -> None:
        started = time.monotonic()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(bound))
                conn.execute(sa.text(alter))
                conn.commit()
            outcome.append(time.monotonic() - started)
        except BaseException as exc:  # reported by the assertion below
            outcome.append(exc)

    thread = threading.Thread(target=upgrade)

    def after_first(stats: RunStats, _done: int) -> None:
        if stats.batches == 1:
            thread.start()
            time.sleep(0.5)  # the ALTER is queued before the next batch is read

    config = MigrationConfig(db_url=server_url, batch_size=10, workers=0, lock_timeout=60)
    stats = run_migration(config, CONTRACT, on_batch=after_first)
    thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], float), outcome
    assert outcome[0] < 10
    assert stats.records == 60 and ledger_problems(engine, SCHEMA) == []
    engine.dispose()


RUN = [sys.executable, "-m", "xmlmigrate", "run", "--contract", str(ENGINE_CC), "--db"]


def _cli(url: str, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [*RUN, url, "-q", "--workers", "0", "--batch-size", "10", *extra]
    return subprocess.run(
        command,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _session_id(conn: sa.Connection) -> int:
    sql = (
        "SELECT pg_backend_pid()" if conn.dialect.name == "postgresql" else "SELECT CONNECTION_ID()"
    )
    return int(conn.execute(sa.text(sql)).scalar_one())


def _cli_behind(
    engine: sa.Engine, url: str, take: str, give_back: str | None, *extra: str
) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """A run started while another session holds a lock (``take``; ``give_back`` releases
    what a rollback does not): its result, seconds and the holder's session id."""
    holder = engine.connect()
    session = _session_id(holder)
    mutex = mutex_name(engine.url.database)
    holder.execute(sa.text(take), {"k": MUTEX_KEY, "n": mutex})
    try:
        started = time.monotonic()
        done = _cli(url, *extra)
        took = time.monotonic() - started
    finally:
        if give_back is not None:
            holder.execute(sa.text(give_back), {"n": mutex})
        holder.rollback()
        holder.close()
    return done, took, session


def test_a_run_behind_a_table_lock_stops_in_bounded_time_naming_the_holder(
    server_url: str,
) -> None:
    """A session holding processing_log locked: the run gives up after --lock-timeout, exit 3,
    one line naming that session (before: it waited forever)."""
    engine = make_engine(server_url)
    if _postgres(engine):
        take, give_back = "LOCK TABLE processing_log IN ACCESS EXCLUSIVE MODE", None
    else:
        take, give_back = "LOCK TABLES processing_log WRITE", "UNLOCK TABLES"
    done, took, session = _cli_behind(engine, server_url, take, give_back, "--lock-timeout", "2")
    assert done.returncode == EXIT_INFRASTRUCTURE, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "waited 2 s for a database lock" in lines[0]
    assert str(session) in lines[0]
    assert took < 40
    # the rerun continues: every app once
    rerun = _cli(server_url)
    assert rerun.returncode == 0, rerun.stderr
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()


STALE = "d" * 32  # a run that died mid-batch: its lease row stays, its session lock is gone


def test_a_claim_behind_a_suspended_batch_gives_up_naming_it(server_url: str) -> None:
    """A dead run's lease row still fenced by an open batch transaction (its process
    suspended): the claim that must sweep it gives up within the timeout, naming the run and
    the session (before: it waited forever, holding the claim lock, and every later run
    queued silently behind it)."""
    engine = make_engine(server_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(SCHEMA.lease),
            {"run_id": STALE, "owner": "host-x pid 4242", "acquired_at": datetime.now()},
        )
    batch = engine.connect()  # the suspended run's batch: the fence taken, never committed
    session = _session_id(batch)
    assert batch.execute(sa.text(fence_sql(engine.dialect.name, ":r")), {"r": STALE}).first()
    try:
        started = time.monotonic()
        first = subprocess.Popen(
            [*RUN, server_url, "-q", "--workers", "0", "--lock-timeout", "3"],
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        second = _cli(server_url, "--lock-timeout", "3")
        first_err = first.communicate(timeout=60)[1]
        took = time.monotonic() - started
    finally:
        batch.rollback()
        batch.close()
    assert first.returncode == EXIT_LEASE_BUSY, first_err
    assert len(first_err.strip().splitlines()) == 1, first_err
    assert f"run {STALE[:12]} (host-x pid 4242)" in first_err and str(session) in first_err
    # the second waited behind the first's claim (said by whom) or, after it, for the batch
    assert second.returncode == EXIT_LEASE_BUSY, second.stderr
    assert STALE[:12] in second.stderr or "lease-claim lock is held by" in second.stderr
    assert took < 45
    # once the batch is gone, a run sweeps the dead lease and migrates everything
    rerun = _cli(server_url)
    assert rerun.returncode == 0, rerun.stderr
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()


def test_a_claim_behind_a_stuck_claimer_says_whom_it_waits_for(server_url: str) -> None:
    """A session holding the claim lock and never letting go: the run says whom it waits for
    while it waits, then gives up, exit 5, naming the session (before: PostgreSQL waited
    forever; MariaDB gave up after 30 s without saying who)."""
    engine = make_engine(server_url)
    if _postgres(engine):
        take, give_back = "SELECT pg_advisory_xact_lock(:k)", None
    else:
        take, give_back = "SELECT GET_LOCK(:n, 0)", "SELECT RELEASE_LOCK(:n)"
    done, took, session = _cli_behind(engine, server_url, take, give_back, "--lock-timeout", "3")
    assert done.returncode == EXIT_LEASE_BUSY, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr  # the warning while waiting, then the error
    assert "waiting up to 3 s" in lines[0] and str(session) in lines[0]
    assert "could not take the lease-claim lock within 3 s" in lines[1]
    assert str(session) in lines[1]
    assert took < 30
    engine.dispose()


def test_the_lock_timeout_keeps_the_users_pgoptions(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg gets the lock timeout in its startup options: PGOPTIONS from the environment
    stays in force beside it (before the fix an explicit option replaced it)."""
    if not db_url.startswith("postgresql+psycopg"):
        pytest.skip("startup options are psycopg's")
    monkeypatch.setenv("PGOPTIONS", "-c application_name=xm_pgoptions_kept")
    engine = make_engine(db_url, lock_timeout=7)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW application_name")).scalar() == "xm_pgoptions_kept"
        assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "7s"
    engine.dispose()


def test_the_claim_mutex_of_another_database_is_not_named(server_url: str) -> None:
    """PostgreSQL's advisory locks are per database: a run on another database of the same
    server holding its own claim mutex is not whom a run here waits for, and is not named
    (it was, now and then, when test workers on other databases claimed at that moment)."""
    engine = make_engine(server_url)
    if not _postgres(engine):
        engine.dispose()
        pytest.skip("MariaDB's named locks carry the database in their name (mutex_name)")
    from xmlmigrate.db.lease import _SessionLocks

    other = make_engine(
        engine.url.set(drivername="postgresql+psycopg", database="postgres", query={})
    )
    try:
        with other.connect() as there, engine.connect() as here:
            there.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MUTEX_KEY})
            elsewhere = there.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            assert _SessionLocks(here).mutex_holder() == "another session"  # nobody here
            mine = here.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            here.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MUTEX_KEY})
            with engine.connect() as probe:
                named = _SessionLocks(probe).mutex_holder()
            assert f"session pid {mine} " in named and str(elsewhere) not in named
    finally:
        other.dispose()
        engine.dispose()

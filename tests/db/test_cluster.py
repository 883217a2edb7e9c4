"""The migration on a Dask cluster (``run --cluster``), on PostgreSQL and MariaDB: a worker
killed with SIGKILL mid-run is replaced and its partition run again, and the tables equal what
the oracle derives and what a plain run gives, with every app logged exactly once; a lost
scheduler stops the client with a clear error, and a second run resumes.

Issue 21: every task maps with the contract the client read (the file replaced meanwhile, or
naming another contract where the workers run), and the runs record its sha256; SIGTERM to a
``tcp://`` client and Ctrl-C to a ``local:N`` one stop the tasks between batches and finish
their runs; a contract error in the tasks is one line, not retried, its exit status saying
what was committed (``--workers`` processes too); planning holds no list of pending ids."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.contracts import ENGINE_CC, engine_generator

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.errors import UserError, WorkerCrashed, XmlMigrateError
from xmlmigrate.ledger import ledger_problems
from xmlmigrate.mock import insert_documents
from xmlmigrate.run import cluster
from xmlmigrate.run.cluster import (
    LEASE_WAIT_S,
    ClusterSpec,
    ClusterStats,
    Plan,
    Span,
    _Tally,
    parse_cluster,
    partition_count,
    plan_partitions,
    run_on_cluster,
)
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.testing import tables
from xmlmigrate.testing.expected import expected_outcome

from .conftest import CONTRACT, SCHEMA, drop_every_table, target_url

distributed = pytest.importorskip("distributed", reason="pip install 'xmlmigrate[dask]'")
psutil = pytest.importorskip("psutil", reason="comes with distributed")

DOCS = list(engine_generator(seed=1414, size_profile="small", edge_rate=0.02).generate(240))


def test_partitions_cover_the_pending_ids_in_contiguous_ranges() -> None:
    ids = [3, 4, 9, 10, 11, 40, 41, 42, 90]
    plan = Plan(len(ids), tuple(Span(i, i, 1) for i in ids))
    bounds = plan.bounds(4)
    assert bounds == [(3, 9), (10, 11), (40, 41), (42, 90)]  # 2.25 ids each
    covered = [i for i in ids if any(a <= i <= b for a, b in bounds)]
    assert covered == ids and all(a <= b for a, b in bounds)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(bounds))
    assert plan.bounds(1) == [(3, 90)] and len(plan.bounds(100)) == len(ids)
    assert partition_count(10_000, 2, 100) == 8  # four per worker
    assert partition_count(30, 2, 100) == 1  # never shorter than a batch
    assert Plan(0, ()).bounds(4) == []
    wide = Plan(300, (Span(1, 50, 100), Span(60, 99, 100), Span(100, 400, 100)))
    assert wide.bounds(3) == [(1, 50), (60, 99), (100, 400)]


@pytest.mark.parametrize("backend", ["postgresql+psycopg", "mysql+pyodbc"])
def test_planning_counts_skewed_ids_into_balanced_ranges(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """3,000 pending ids packed at the start of a range two billion wide (one app at its
    end, and logged ones between): the ranges are counted finer where the apps are, every
    pending id is in exactly one partition and the partitions are about equal."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url(backend, worker, tmp_path_factory.getbasetemp())
    engine = make_engine(url)
    drop_every_table(engine)
    SCHEMA.create(engine)
    ids = [*range(1, 3001), 2_000_000_000]
    logged = list(range(1, 3001, 3))  # every third app is done: not pending
    with engine.begin() as conn:
        conn.execute(sa.insert(SCHEMA.source), [{"app_id": i, "xml": "<x/>"} for i in ids])
        conn.execute(
            sa.insert(SCHEMA.log),
            [
                {"app_id": i, "run_id": "r", "status": "success", "logged_at": datetime.now()}
                for i in logged
            ],
        )
    plan = plan_partitions(engine, SCHEMA, MigrationConfig(db_url=url, batch_size=10))
    engine.dispose()
    pending = sorted(set(ids) - set(logged))
    assert plan.pending == len(pending)
    bounds = plan.bounds(8)
    assert len(bounds) == 8
    parts = [[i for i in pending if a <= i <= b] for a, b in bounds]
    assert sorted(i for p in parts for i in p) == pending  # each exactly once
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(bounds))
    assert max(len(p) for p in parts) <= 1.2 * len(pending) / 8, [len(p) for p in parts]


def test_progress_sums_every_attempt_and_ignores_late_events() -> None:
    tally = _Tally()
    counts = dict.fromkeys(("records", "success", "failed", "rejected", "warnings", "rows"), 0)
    tally.add("1-50", "run-a", counts | {"records": 20, "success": 20, "rows": 90})
    tally.add("1-50", "run-a", counts | {"records": 10, "success": 10})  # late, older batch
    tally.add("1-50", "run-b", counts | {"records": 30, "success": 29, "failed": 1}, final=True)
    tally.add("51-99", "run-c", counts | {"records": 5, "rejected": 5})
    stats = ClusterStats("local:2", None, 2, 99)
    tally.into(stats)
    assert (stats.records, stats.success, stats.failed, stats.rejected, stats.rows) == (
        55,
        49,
        1,
        5,
        90,
    )


@pytest.mark.parametrize("text", ["local:0", "local:x", "http://h:1", "", "tcp://"])
def test_a_bad_cluster_spec_is_a_usage_error(text: str) -> None:
    with pytest.raises(UserError, match="--cluster"):
        parse_cluster(text)


def test_sqlite_is_refused(tmp_path: Any) -> None:
    config = MigrationConfig(db_url=f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(UserError, match="SQLite has one writer"):
        run_on_cluster(config, ClusterSpec(2, None))


def _target(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url(backend, worker, tmp_path_factory.getbasetemp())
    engine = make_engine(url)
    drop_every_table(engine)
    SCHEMA.create(engine)
    insert_documents(engine, SCHEMA, DOCS)
    engine.dispose()
    return url


def _logged(url: str) -> dict[int, list[Any]]:
    engine = make_engine(url)
    out: dict[int, list[Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.select(SCHEMA.log.c.app_id, SCHEMA.log.c.status)):
            out.setdefault(int(r.app_id), []).append(r.status)
    engine.dispose()
    return out


def _assert_exactly_once_and_equal_to_the_oracle(url: str) -> None:
    log = _logged(url)
    assert sorted(log) == sorted(d.app_id for d in DOCS)
    assert all(len(v) == 1 and v[0] in ("success", "rejected") for v in log.values()), log
    outcomes = {d.app_id: expected_outcome(d.model, CONTRACT) for d in DOCS}
    assert {k: v[0] for k, v in log.items()} == {k: o.status for k, o in outcomes.items()}
    engine = make_engine(url)
    got = tables.table_rows(engine, SCHEMA.targets)
    want = tables.expected_table_rows(
        SCHEMA.targets, (o.rows for o in outcomes.values() if o.status == "success")
    )
    assert got == want
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()


def _when_logged(url: str, count: int, action: Any, timeout: float = 180) -> threading.Thread:
    """Run ``action`` once at least ``count`` apps are logged (in a thread)."""

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(len(v) for v in _logged(url).values()) >= count:
                action()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def _run(*args: str, **popen: Any) -> subprocess.Popen[str]:
    """``xmlmigrate run`` with the engine's contract and ``args``."""
    return _xmlmigrate("run", "--contract", str(ENGINE_CC), *args, **popen)


def _xmlmigrate(
    *args: str, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "xmlmigrate.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "160", **(env or {})}, **popen,
    )  # fmt: skip


def _dask_workers(parent: int) -> list[psutil.Process]:
    """The Dask worker processes a LocalCluster in process ``parent`` spawned (its nanny
    lives in the parent; each worker is a spawned child that is no resource tracker)."""
    found = []
    for child in psutil.Process(parent).children(recursive=True):
        cmd = " ".join(child.cmdline())
        if "spawn_main" in cmd and "resource_tracker" not in cmd:
            found.append(child)
    return found


@pytest.mark.parametrize("backend", ["postgresql+psycopg", "mysql+pyodbc"])
def test_a_worker_killed_mid_run_is_replaced_and_its_partition_resumed(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``xmlmigrate run --cluster local:2``; once 20 apps are logged one Dask worker process
    is killed with SIGKILL."""
    url = _target(backend, tmp_path_factory)
    run = _run(
        "--db",
        url,
        "--cluster",
        "local:2",
        "--batch-size",
        "10",
        "-q",
    )
    killed: list[int] = []

    def kill() -> None:
        workers = _dask_workers(run.pid)
        if workers:
            killed.append(workers[0].pid)
            os.kill(workers[0].pid, signal.SIGKILL)

    killer = _when_logged(url, 20, kill)
    out, err = run.communicate(timeout=600)
    killer.join(timeout=5)
    assert run.returncode == 0, out + err
    assert killed, "no Dask worker process was found to kill"
    assert "in 8 partitions" in out and "failed 0" in out
    # the summary counts the killed attempt's apps too (from the ledger, by cluster run)
    assert f"Cluster local:2: {len(DOCS):,} records" in out, out
    # the partitions' fits merged: what any of them filled
    assert "Contract fit: the documents filled" in " ".join(out.split()), out
    _assert_exactly_once_and_equal_to_the_oracle(url)
    _assert_equal_to_a_plain_run(url)


def _assert_equal_to_a_plain_run(url: str) -> None:
    """The same documents migrated again by a plain single-process run into an emptied
    target give the same rows in every table and the same status for every app."""
    engine = make_engine(url)
    on_cluster = tables.table_rows(engine, SCHEMA.targets)
    statuses = {k: v[0] for k, v in _logged(url).items()}
    drop_every_table(engine)
    SCHEMA.create(engine)
    insert_documents(engine, SCHEMA, DOCS)
    stats = run_migration(MigrationConfig(db_url=url, workers=0, batch_size=10), CONTRACT)
    assert stats.records == len(DOCS)
    assert tables.table_rows(engine, SCHEMA.targets) == on_cluster
    assert {k: v[0] for k, v in _logged(url).items()} == statuses
    engine.dispose()


@dataclass
class _Dask:
    address: str
    scheduler: subprocess.Popen[bytes]


@contextlib.contextmanager
def _dask_cluster(workers: int = 2, **popen: Any) -> Iterator[_Dask]:
    """A scheduler and ``workers`` single-threaded workers of their own (``dask scheduler``,
    ``dask worker``; ``popen``: how the workers are started), up once every worker has
    joined; all killed at the end."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", str(port),
            "--dashboard-address", ":0"]  # fmt: skip
    procs = [subprocess.Popen(dask, **quiet)]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
              "--no-dashboard"]  # fmt: skip
    procs += [subprocess.Popen(worker, **quiet, **popen) for _ in range(workers)]
    try:
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield _Dask(address, procs[0])
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_a_lost_scheduler_stops_the_client_and_a_rerun_resumes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A scheduler and two workers of their own (``dask scheduler``, ``dask worker``), the
    run through ``--cluster tcp://…``; the scheduler is killed once 20 apps are logged."""
    url = _target("postgresql+psycopg", tmp_path_factory)
    with _dask_cluster(2) as dask:
        run = _run("--db", url, "--cluster", dask.address, "--batch-size", "10", "-q")
        stopper = _when_logged(url, 20, dask.scheduler.kill)
        out, err = run.communicate(timeout=600)
        stopper.join(timeout=5)
    assert run.returncode == 3, out + err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: lost the Dask scheduler") and "Traceback" not in err, err
    done = _count(url)
    assert 0 < done < len(DOCS)
    again = _run("--db", url, "--cluster", "local:2", "--batch-size", "10", "-q")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, out + err
    assert f"{len(DOCS) - done:,} records" in out
    _assert_exactly_once_and_equal_to_the_oracle(url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _said(err: str) -> list[str]:
    """The lines of a ``run --cluster``'s stderr besides its plan ("N apps pending in P
    partitions on …", printed above the progress bar)."""
    return [line for line in err.strip().splitlines() if " apps pending in " not in line]


def _count(url: str) -> int:
    """Log rows (one per app and run)."""
    return sum(len(v) for v in _logged(url).values())


def _runs(url: str) -> list[dict[str, Any]]:
    """Every ``migration_run`` row, with its stored config parsed and the apps logged under it."""
    engine = make_engine(url)
    runs, log = SCHEMA.runs, SCHEMA.log
    with engine.connect() as conn:
        logged = dict(
            conn.execute(sa.select(log.c.run_id, sa.func.count()).group_by(log.c.run_id)).all()
        )
        rows = [dict(r._mapping) for r in conn.execute(sa.select(runs))]
    engine.dispose()
    for row in rows:
        row["config"] = json.loads(row["config"] or "{}")
        row["logged"] = int(logged.get(row["run_id"], 0))
    return rows


def _leases(url: str) -> list[Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        held = list(conn.execute(sa.select(SCHEMA.lease)).all())
    engine.dispose()
    return held


def _assert_every_run_finished(url: str) -> None:
    """Each run row is finished, its counts those of the apps logged under it."""
    runs = _runs(url)
    assert runs
    for row in runs:
        assert row["finished_at"] is not None, row
        assert row["records"] == row["logged"], row


SERVERS = ["postgresql+psycopg", "mysql+pyodbc"]
OTHER_EXPIRY = ("DATEADD(DAY, 30, receive_date)", "DATEADD(DAY, 60, receive_date)")


def _expiry_days(url: str) -> Counter[int]:
    """Apps by the days from their receive date to their expiration date."""
    engine = make_engine(url)
    base = SCHEMA.metadata.tables["app_base"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(base.c.receive_date, base.c.expiration_date)).all()
    engine.dispose()
    return Counter((e - r).days for r, e in rows if r is not None and e is not None)


def _contract_texts() -> tuple[str, str]:
    """The engine's contract, and another one of the same tables whose documents' expiration
    date is 60 days after their receive date instead of 30."""
    text = ENGINE_CC.read_text(encoding="utf-8")
    other = text.replace(*OTHER_EXPIRY)
    assert other != text
    return text, other


@pytest.mark.parametrize("backend", SERVERS)
def test_every_task_maps_with_the_contract_the_client_checked(
    backend: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 21, 1: the contract file is replaced by another contract once the client has
    read it (its ``on_start`` hook: planned, no task started yet). Every app gets the
    client's contract, and each partition's run records the sha256 of what the client read."""
    url = _target(backend, tmp_path_factory)
    text, other = _contract_texts()
    path = tmp_path / "my.toml"
    path.write_text(text, encoding="utf-8")

    def replace(*_: object) -> None:
        path.write_text(other, encoding="utf-8")

    config = MigrationConfig(db_url=url, contracts=(path,), batch_size=10)
    stats = run_on_cluster(config, ClusterSpec(2, None), on_start=replace)
    assert path.read_text(encoding="utf-8") == other
    assert stats.records == len(DOCS)
    assert set(_expiry_days(url)) == {30}, _expiry_days(url)
    _assert_exactly_once_and_equal_to_the_oracle(url)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert {r["config"].get("contract_sha256") for r in _runs(url)} == {digest}


@pytest.mark.parametrize("backend", SERVERS)
def test_a_worker_where_the_contract_path_names_another_file_maps_with_the_clients(
    backend: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 21, 1: ``run --contract my.toml --cluster tcp://…`` from a directory holding the
    engine's contract, the ``dask worker`` processes started in one where my.toml is
    another contract."""
    url = _target(backend, tmp_path_factory)
    text, other = _contract_texts()
    here, there = tmp_path / "client", tmp_path / "worker"
    for directory, contract in ((here, text), (there, other)):
        directory.mkdir()
        (directory / "my.toml").write_text(contract, encoding="utf-8")
    with _dask_cluster(2, cwd=there) as dask:
        run = _xmlmigrate(
            "run", "--contract", "my.toml", "--db", url, "--cluster", dask.address,
            "--batch-size", "10", "-q", cwd=here,
        )  # fmt: skip
        out, err = run.communicate(timeout=600)
    assert run.returncode == 0, out + err
    assert set(_expiry_days(url)) == {30}, _expiry_days(url)
    _assert_exactly_once_and_equal_to_the_oracle(url)


@pytest.mark.parametrize("backend", SERVERS)
def test_sigterm_to_a_tcp_client_stops_its_tasks_and_finishes_their_runs(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 21, 10: ``run --cluster tcp://…`` (a scheduler and two workers of its own) gets
    SIGTERM once 20 apps are logged. The client exits 143 once its tasks stopped after their
    batch in flight: nothing is committed after it, every run row is finished with the
    counts of its apps, no lease is left, and a rerun on the same workers completes every
    app exactly once without waiting for a lease."""
    url = _target(backend, tmp_path_factory)
    with _dask_cluster(2) as dask:
        run = _run("--db", url, "--cluster", dask.address, "--batch-size", "5", "-q")
        sent: list[float] = []

        def terminate() -> None:
            sent.append(time.monotonic())
            run.send_signal(signal.SIGTERM)

        stopper = _when_logged(url, 20, terminate)
        out, err = run.communicate(timeout=600)
        exited = time.monotonic()
        stopper.join(timeout=5)
        at_exit = _count(url)
        time.sleep(8)  # tasks still going would have committed a batch or more by now
        later = _count(url)
        assert sent, "the client ended before 20 apps were logged"
        print(f"client exited {exited - sent[0]:.1f} s after SIGTERM; {at_exit} apps logged "
              f"then, {later} 8 s later; rc {run.returncode}; stderr {len(err.splitlines())} "
              f"lines")  # fmt: skip
        assert run.returncode == 143, out + err
        assert exited - sent[0] < 60
        assert _said(err) == [], err
        assert later == at_exit < len(DOCS)
        _assert_every_run_finished(url)
        assert _leases(url) == []
        started = time.monotonic()
        again = _run("--db", url, "--cluster", dask.address, "--batch-size", "5", "-q")
        out, err = again.communicate(timeout=600)
        rerun_s = time.monotonic() - started
        print(f"rerun: rc {again.returncode} in {rerun_s:.1f} s")
    assert again.returncode == 0, out + err
    assert f"{len(DOCS) - at_exit:,} records" in out, out
    assert rerun_s < LEASE_WAIT_S, rerun_s
    _assert_exactly_once_and_equal_to_the_oracle(url)


FAULT = """
# A machine whose xmlmigrate cannot compile the client's contract (an older release, say):
# once the file $XM_TEST_CONTRACT_FAULT exists, every compile fails with a contract error,
# and adds a line to that file.
import os

from xmlmigrate.contract import compiled

_MARK = os.environ["XM_TEST_CONTRACT_FAULT"]
_compile = compiled._Compiler.compile


def _older(self):
    if os.path.exists(_MARK):
        with open(_MARK, "a", encoding="utf-8") as f:
            f.write(str(os.getpid()) + " ")
        raise self.err("[contract]: unknown key(s) ['version'] (an older xmlmigrate)")
    return _compile(self)


compiled._Compiler.compile = _older
"""


def _contract_fault(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment of processes that load FAULT, and its marker file (absent: no fault)."""
    fault = tmp_path / "fault"
    fault.mkdir()
    (fault / "sitecustomize.py").write_text(FAULT, encoding="utf-8")
    mark = tmp_path / "older"
    path = os.pathsep.join(p for p in (str(fault), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, "XM_TEST_CONTRACT_FAULT": str(mark)}, mark


@pytest.mark.parametrize("backend", SERVERS)
def test_a_contract_error_in_the_tasks_is_one_line_not_retried_and_says_what_was_written(
    backend: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 21, 12: ``run --cluster local:2`` whose workers cannot compile the contract any
    more once 20 apps are logged (a ``sitecustomize`` on their path). The run stops with
    one line naming the contract error and the apps committed, exit 1 (not 2, "nothing was
    written"), each partition tried once; a rerun once fixed completes every app once."""
    url = _target(backend, tmp_path_factory)
    env, mark = _contract_fault(tmp_path)
    run = _run("--db", url, "--cluster", "local:2", "--batch-size", "5", "-q", env=env)
    breaker = _when_logged(url, 20, mark.touch)
    out, err = run.communicate(timeout=600)
    breaker.join(timeout=5)
    done = _count(url)
    assert mark.exists(), "the run ended before 20 apps were logged"
    attempts = len(mark.read_text(encoding="utf-8").split())
    lines = _said(err)
    print(f"rc {run.returncode}; {len(lines)} lines on stderr; {attempts} failed compiles; "
          f"{done} apps committed; last line: {lines[-1] if lines else ''}")  # fmt: skip
    assert 0 < done < len(DOCS)
    assert run.returncode == 1, out + err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: ") and "older xmlmigrate" in lines[0], lines
    assert f"{done:,} apps" in lines[0], lines
    assert attempts <= 2, attempts  # two workers; no partition tried again
    _assert_every_run_finished(url)
    mark.unlink()
    again = _run("--db", url, "--cluster", "local:2", "--batch-size", "10", "-q", env=env)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, out + err
    _assert_exactly_once_and_equal_to_the_oracle(url)


@pytest.mark.parametrize("backend", SERVERS)
def test_ctrl_c_stops_a_local_cluster_run_in_one_line(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 21, 12: Ctrl-C (SIGINT to the client's whole process group, as a terminal sends
    it: the LocalCluster's worker processes get it too) once 20 apps are logged: exit 130,
    no traceback, every run finished; a rerun completes every app once."""
    url = _target(backend, tmp_path_factory)
    run = _run(
        "--db", url, "--cluster", "local:2", "--batch-size", "5", "-q", start_new_session=True
    )
    stopper = _when_logged(url, 20, lambda: os.killpg(run.pid, signal.SIGINT))
    out, err = run.communicate(timeout=600)
    stopper.join(timeout=5)
    lines = _said(err)
    print(f"rc {run.returncode}; {len(lines)} lines on stderr")
    assert run.returncode == 130, out + err
    assert len(lines) <= 1 and "Traceback" not in err and "KeyboardInterrupt" not in err, err
    done = _count(url)
    assert 0 < done < len(DOCS)
    _assert_every_run_finished(url)
    again = _run("--db", url, "--cluster", "local:2", "--batch-size", "10", "-q")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, out + err
    _assert_exactly_once_and_equal_to_the_oracle(url)


@pytest.mark.parametrize("backend", SERVERS)
def test_pool_workers_map_with_the_contract_the_coordinator_checked(
    backend: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Issue 21, 12 (``--workers 2``, no cluster): the contract file is replaced by a broken
    one once the coordinator has read it, before its worker processes start. They map with
    the coordinator's contract: no traceback, no crashed worker, every app as the oracle
    says."""
    url = _target(backend, tmp_path_factory)
    text, _ = _contract_texts()
    path = tmp_path / "my.toml"
    path.write_text(text, encoding="utf-8")

    def break_it(_pending: int) -> None:
        path.write_text("[contract\nname = ", encoding="utf-8")

    config = MigrationConfig(db_url=url, contracts=(path,), workers=2, batch_size=10)
    stats = run_migration(config, on_start=break_it)
    err = capfd.readouterr().err
    assert stats.crash is None, stats.crash
    assert "Traceback" not in err, err
    assert stats.records == len(DOCS)
    assert stats.coordinator_batches == 1 < stats.batches  # the workers mapped the others
    _assert_exactly_once_and_equal_to_the_oracle(url)


@pytest.mark.parametrize("backend", SERVERS)
def test_a_contract_error_in_a_worker_process_is_the_runs_one_error(
    backend: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 21, 12 (``--workers 2``, no cluster): the worker processes cannot compile the
    contract (FAULT, armed once the coordinator has read it). The run raises that contract
    error — the one line the CLI prints, exit status 2 — instead of worker tracebacks and
    "worker crashed". The first page, which the coordinator transforms itself while the
    workers start, is committed whole; a rerun takes every other app once."""
    url = _target(backend, tmp_path_factory)
    env, mark = _contract_fault(tmp_path)
    for name, value in env.items():  # what the spawned worker processes start with
        monkeypatch.setenv(name, value)
    config = MigrationConfig(db_url=url, contracts=(ENGINE_CC,), workers=2, batch_size=10)
    with pytest.raises(XmlMigrateError) as caught:
        run_migration(config, on_start=lambda _pending: mark.touch())
    err = capfd.readouterr().err
    assert not isinstance(caught.value, WorkerCrashed), caught.value
    assert "older xmlmigrate" in str(caught.value) and caught.value.exit_code == 2
    assert "Traceback" not in err, err
    logged = _count(url)
    assert logged == 10  # the coordinator's first page, whole
    engine = make_engine(url)
    try:
        assert ledger_problems(engine, SCHEMA) == []
    finally:
        engine.dispose()
    rest = run_migration(MigrationConfig(db_url=url, contracts=(ENGINE_CC,), workers=0))
    assert rest.records == len(DOCS) - logged


PLANNED = 200_000


class _Planned(Exception):
    """Raised where the cluster would start: the run is planned."""


def _no_cluster(_spec: ClusterSpec) -> Any:
    raise _Planned


@pytest.mark.parametrize("backend", SERVERS)
def test_planning_holds_no_list_of_the_pending_ids(
    backend: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21, 12: 200,000 pending apps are planned into partitions in well under the
    memory a list of their ids takes (the issue measured +34 MB per 200,000)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url(backend, worker, tmp_path_factory.getbasetemp())
    engine = make_engine(url)
    drop_every_table(engine)
    SCHEMA.create(engine)
    src = SCHEMA.source
    with engine.begin() as conn:
        conn.execute(sa.insert(src), [{"app_id": i, "xml": "<x/>"} for i in range(1, 1001)])
        n = 1000
        while n < PLANNED:  # doubling, server-side
            more = sa.select(src.c.app_id + n, src.c.xml).where(src.c.app_id + n <= PLANNED)
            conn.execute(sa.insert(src).from_select(["app_id", "xml"], more))
            n *= 2
        assert conn.execute(sa.select(sa.func.count()).select_from(src)).scalar_one() == PLANNED
    engine.dispose()
    monkeypatch.setattr(cluster, "_client", _no_cluster)
    config = MigrationConfig(db_url=url, contracts=(ENGINE_CC,))
    tracemalloc.start()
    try:
        with pytest.raises(_Planned):
            run_on_cluster(config, ClusterSpec(2, None))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"planning {PLANNED:,} pending apps: peak {peak / 1e6:.1f} MB traced")
    assert peak < 8e6, peak


def test_a_cluster_run_writes_its_metrics(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 22: ``run --cluster … --metrics-out FILE`` was accepted and ignored (no file);
    now it holds the config with the cluster, the counts, each partition's run, elapsed and
    rec/min."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url("postgresql+psycopg", worker, tmp_path_factory.getbasetemp())
    engine = make_engine(url)
    drop_every_table(engine)
    SCHEMA.create(engine)
    insert_documents(engine, SCHEMA, engine_generator(seed=22, size_profile="small").generate(40))
    engine.dispose()
    metrics = tmp_path / "cluster.json"
    command = [sys.executable, "-m", "xmlmigrate", "run", "--contract", str(ENGINE_CC)]
    command += ["--db", url, "--cluster", "local:1", "--batch-size", "10", "-q"]
    out = subprocess.run(
        [*command, "--metrics-out", str(metrics)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "160"},
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    written = json.loads(metrics.read_text(encoding="utf-8"))
    assert written["config"]["cluster"] == "local:1"
    assert written["config"]["batch_size"] == 10
    assert written["records"] == written["success"] == 40 and written["failed"] == 0
    assert written["elapsed"] > 0 and written["rec_per_min"] > 0
    parts = written["parts"]
    assert len(parts) == written["partitions"] >= 1
    assert sum(p["records"] for p in parts) == 40 and all(p["run"] for p in parts)
    assert written["stop_signal"] is None


def test_a_local_cluster_starts_its_workers_without_the_dask_profiler() -> None:
    """The profiler samples every thread each 10 ms: a local:N run's own workers go without."""
    import dask

    from xmlmigrate.run.cluster import _client

    client, cluster = _client(parse_cluster("local:1"))
    try:

        def enabled() -> object:
            return dask.config.get("distributed.worker.profile.enabled")

        assert client.run(enabled) == {w: False for w in client.scheduler_info()["workers"]}
    finally:
        client.close()
        cluster.close()
    assert dask.config.get("distributed.worker.profile.enabled") is True  # here: unchanged

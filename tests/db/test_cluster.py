"""The migration on a Dask ``LocalCluster`` (``run --cluster``), on PostgreSQL and MariaDB:
a worker killed with SIGKILL mid-run is replaced and its partition run again, and the tables
equal what the oracle derives and what a plain run gives, with every app logged exactly once; a lost scheduler stops the
client with a clear error, and a second run resumes."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from tests.contracts import ENGINE_CC, engine_generator

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.errors import UserError
from xmlmigrate.ledger import ledger_problems
from xmlmigrate.mock import insert_documents
from xmlmigrate.run.cluster import (
    ClusterSpec,
    ClusterStats,
    _Tally,
    parse_cluster,
    partition_bounds,
    partition_count,
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
    bounds = partition_bounds(ids, 4)
    assert bounds == [(3, 9), (10, 40), (41, 90)]  # three ids each: ceil(9 / 4)
    covered = [i for i in ids if any(a <= i <= b for a, b in bounds)]
    assert covered == ids and all(a <= b for a, b in bounds)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(bounds))
    assert partition_count(10_000, 2, 100) == 8  # four per worker
    assert partition_count(30, 2, 100) == 1  # never shorter than a batch
    assert partition_bounds([], 4) == []


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


def _run(*args: str) -> subprocess.Popen[str]:
    """``xmlmigrate run`` with the engine's contract and ``args``."""
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.Popen(
        [sys.executable, "-m", "xmlmigrate.cli", "run", "--contract", str(ENGINE_CC), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
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


def test_a_lost_scheduler_stops_the_client_and_a_rerun_resumes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A scheduler and two workers of their own (``dask scheduler``, ``dask worker``), the
    run through ``--cluster tcp://…``; the scheduler is killed once 20 apps are logged."""
    url = _target("postgresql+psycopg", tmp_path_factory)
    port = _free_port()
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", str(port),
            "--dashboard-address", ":0"]  # fmt: skip
    scheduler = subprocess.Popen(dask, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"tcp://127.0.0.1:{port}"
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--nthreads",
                "1",
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        run = _run(
            "--db",
            url,
            "--cluster",
            address,
            "--batch-size",
            "10",
            "-q",
        )
        stopper = _when_logged(url, 20, scheduler.kill)
        out, err = run.communicate(timeout=600)
        stopper.join(timeout=5)
    finally:
        for proc in (scheduler, *workers):
            proc.kill()
            proc.wait()
    assert run.returncode == 3, out + err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: lost the Dask scheduler") and "Traceback" not in err, err
    done = sum(len(v) for v in _logged(url).values())
    assert 0 < done < len(DOCS)
    again = _run(
        "--db",
        url,
        "--cluster",
        "local:2",
        "--batch-size",
        "10",
        "-q",
    )
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, out + err
    assert f"{len(DOCS) - done:,} records" in out
    _assert_exactly_once_and_equal_to_the_oracle(url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

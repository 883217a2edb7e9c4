"""The parallel pipeline and its knobs: same tables whatever the settings, counters that prove
each knob acts, Ctrl-C and crashed workers lose nothing."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.contracts import ENGINE_CC, engine_contract, engine_generator

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.ledger import ledger_problems, reset_target
from xmlmigrate.mock import insert_documents
from xmlmigrate.model import RunStats
from xmlmigrate.run.pipeline import run_migration

CONTRACT = engine_contract()
SCHEMA = build_schema(CONTRACT)
DUPLICATES = 4


def make_corpus(url: str, count: int = 60, profile: str = "small") -> sa.Engine:
    """Edge cases, plus apps reusing an earlier app's con_id and a malformed document."""
    engine = make_engine(url)
    SCHEMA.create(engine)
    docs = list(engine_generator(seed=77, size_profile=profile, edge_rate=0.03).generate(count))
    insert_documents(engine, SCHEMA, docs)
    clean = list(
        engine_generator(seed=78, size_profile="small", start_app_id=9001).generate(DUPLICATES + 1)
    )
    insert_documents(engine, SCHEMA, clean[:1])
    owner = clean[0].model.contacts[0].value("con_id")
    extra = []
    for i, doc in enumerate(clean[1:], start=1):
        xml = doc.xml.replace(f'con_id="{doc.app_id * 8}"', f'con_id="{owner}"', 1)
        extra.append(
            {
                "app_id": 9100 + i,
                "xml": xml.replace(f'Request ID="{doc.app_id}"', f'Request ID="{9100 + i}"', 1),
            }
        )
    extra.append({"app_id": 9200, "xml": docs[0].xml[: len(docs[0].xml) // 2]})
    with engine.begin() as conn:
        conn.execute(sa.insert(SCHEMA.source), extra)
    return engine


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for table in SCHEMA.targets:
            out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(sa.select(table)))
        out["log"] = sorted(
            (int(r.app_id), str(r.status))
            for r in conn.execute(sa.select(SCHEMA.log.c.app_id, SCHEMA.log.c.status))
        )
    return out


@pytest.fixture(scope="module")
def corpus_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('pipe') / 'pipe.db'}"
    make_corpus(url).dispose()
    return url


def run(url: str, **knobs: Any) -> tuple[RunStats, dict[str, Any]]:
    engine = make_engine(url)
    reset_target(engine, SCHEMA)
    stats = run_migration(MigrationConfig(db_url=url, **knobs), CONTRACT)
    assert ledger_problems(engine, SCHEMA) == []
    snap = snapshot(engine)
    engine.dispose()
    return stats, snap


@pytest.fixture(scope="module")
def reference(corpus_url: str) -> dict[str, Any]:
    stats, snap = run(corpus_url, workers=0, batch_size=200)
    assert stats.failed == DUPLICATES and stats.rejected >= 1
    return snap


@pytest.mark.parametrize(
    "knobs",
    [
        {"workers": 1},
        {"workers": 2},
        {"workers": 2, "pipelined": False},
        {"workers": 0, "dedup_cache": False},
        {"workers": 2, "dedup_cache": False, "batch_size": 7},
        {"workers": 0, "batch_size": 1},
        {"workers": 2, "batch_size": 1},
        {"workers": 2, "batch_size": 2000},
        {"workers": 1, "pipelined": False, "pooling": False, "batch_size": 13},
        {"workers": 0, "scoped_parse": False},
        {"workers": 0, "threads": 2},
        {"workers": 2, "threads": 3, "batch_size": 7},
    ],
    ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()),
)
def test_same_tables_whatever_the_knobs(
    corpus_url: str, reference: dict[str, Any], knobs: dict[str, Any]
) -> None:
    stats, snap = run(corpus_url, **knobs)
    assert stats.workers == min(knobs["workers"], stats.batches)  # no more than batches
    assert snap == reference


def test_pooling_knob_changes_connections(corpus_url: str) -> None:
    pooled, _ = run(corpus_url, workers=0, batch_size=10)
    fresh, _ = run(corpus_url, workers=0, batch_size=10, pooling=False)
    assert pooled.connections_opened == 1
    assert fresh.connections_opened == fresh.batches > 1
    # the same statements either way, counted across the many writers of the unpooled run
    assert pooled.statements == fresh.statements > 0


def test_statements_and_pages_are_counted_exactly(corpus_url: str) -> None:
    """What the perf gate compares between commits: deterministic for a corpus and knobs."""
    small, _ = run(corpus_url, workers=0, batch_size=10)
    large, _ = run(corpus_url, workers=0, batch_size=1000)
    assert small.source_queries == small.batches + 1  # the last, empty page ends the read
    assert large.source_queries == large.batches + 1 == 2
    assert small.statements > large.statements >= large.transactions
    again, _ = run(corpus_url, workers=2, batch_size=10)
    assert (again.statements, again.source_queries) == (small.statements, small.source_queries)


def test_dedup_cache_knob_changes_database_round_trips(corpus_url: str) -> None:
    cached, _ = run(corpus_url, workers=0)
    uncached, _ = run(corpus_url, workers=0, dedup_cache=False)
    assert cached.cache_duplicates == DUPLICATES and cached.failed_transactions == 0
    assert uncached.cache_duplicates == 0 and uncached.failed_transactions > DUPLICATES
    assert uncached.transactions > cached.transactions


def test_automatic_workers() -> None:
    config = MigrationConfig(batch_size=100)
    assert config.resolved_workers(300) == 0  # a few batches: starting processes costs more
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert config.resolved_workers(100_000) == (0 if cores == 1 else cores)
    assert MigrationConfig(workers=3).resolved_workers(1_000) == 3


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_automatic_workers_follow_the_cores_this_process_may_use() -> None:
    """``taskset -c 0`` (or a container's cpuset) leaves one core: the run stays in-process
    instead of starting processes that would share it; two cores give two workers."""
    config = MigrationConfig(batch_size=100)
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert config.resolved_workers(100_000) == 0
        assert MigrationConfig(workers=2).resolved_workers(100_000) == 2  # asked: honoured
        if len(before) >= 2:
            os.sched_setaffinity(0, set(sorted(before)[:2]))
            assert config.resolved_workers(100_000) == 2
    finally:
        os.sched_setaffinity(0, before)


def _cli(url: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xmlmigrate.cli",
            "run",
            "--contract",
            str(ENGINE_CC),
            "--db",
            url,
            "-q",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def _logged(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(SCHEMA.log)).scalar_one())


def test_ctrl_c_commits_finished_batches_and_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'int.db'}"
    engine = make_corpus(url, count=600, profile="realistic")
    total = 600 + DUPLICATES + 2
    proc = _cli(url, "--workers", "2", "--batch-size", "20")
    deadline = time.monotonic() + 120
    while _logged(engine) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Interrupted" in out
    done = _logged(engine)
    assert 0 < done < total
    assert ledger_problems(engine, SCHEMA) == []
    resumed = run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT)
    assert resumed.records == total - done
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()


def _workers_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_text()
        except (OSError, NotADirectoryError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds the workers in /proc (Linux)")
def test_a_crashed_worker_is_reported_and_its_apps_stay_pending(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    engine = make_corpus(url, count=600, profile="realistic")
    proc = _cli(url, "--workers", "2", "--batch-size", "10")
    deadline = time.monotonic() + 120
    while _logged(engine) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _workers_of(proc.pid)
    assert len(workers) == 2, workers
    for pid in workers:  # as the kernel's OOM killer would; batches in flight are lost
        os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, out + err
    assert "worker" in out and "crashed" in out and "exit code -9" in out, out[-3000:]
    logged = _logged(engine)
    assert 0 < logged < 600 + DUPLICATES + 2
    assert ledger_problems(engine, SCHEMA) == []
    rest = run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT)
    assert rest.records == 600 + DUPLICATES + 2 - logged
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()


def test_a_worker_dying_halfway_through_sending_a_result_does_not_hang_the_pool() -> None:
    """The worker finishes batch 0 and starts sending it while nobody reads, so the send
    blocks on a full pipe; then it is killed. The coordinator must see a crash, not wait for
    the rest of a message that will never come."""
    import pickle
    import threading

    from xmlmigrate.contract.shipped import ContractTexts
    from xmlmigrate.model import RawRecord
    from xmlmigrate.run.workers import (
        TransformOptions,
        TransformPool,
        WorkerCrashed,
        transform_batch,
    )

    docs = list(engine_generator(seed=3, size_profile="realistic").generate(120))
    first = [RawRecord(d.app_id, d.xml.encode()) for d in docs[:120]]
    results, _ = transform_batch(first, CONTRACT, TransformOptions())
    assert len(pickle.dumps(results)) > 4 * 65536  # far more than a pipe holds
    texts = ContractTexts.of(CONTRACT)
    assert texts is not None
    pool = TransformPool(1, texts, TransformOptions(), depth=2)
    try:
        pool.submit(0, first)
        worker = pool._procs[0]
        (pipe,) = pool._pipes
        assert pipe.poll(120), "the worker never started sending"  # bytes of batch 0 arrived
        time.sleep(0.5)  # the rest cannot fit in the pipe: the send is blocked halfway
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=30)
        assert worker.exitcode == -signal.SIGKILL
        outcome: list[object] = []

        def collect() -> None:
            try:
                outcome.append(pool.get())
            except WorkerCrashed as exc:
                outcome.append(exc)

        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        reader.join(timeout=30)
        assert not reader.is_alive(), "the pool hung on a half-sent result"
        assert len(outcome) == 1 and isinstance(outcome[0], WorkerCrashed), outcome
        assert "exit code -9" in str(outcome[0])
    finally:
        pool.close(force=True)


def test_the_first_batch_is_done_here_while_the_workers_start(
    corpus_url: str, reference: dict[str, Any]
) -> None:
    """The coordinator transforms the first page itself (worker processes take a second or
    more to start), so a run commits within a second whatever its workers; the workers do the
    others, the tables are the same, and the run reports its first commit and the memory of
    all its processes."""
    stats, snap = run(corpus_url, workers=2, batch_size=10)
    assert snap == reference
    assert stats.coordinator_batches == 1 < stats.batches
    assert stats.first_commit_s is not None and 0 < stats.first_commit_s < stats.elapsed + 60
    rss = stats.peak_rss_mb
    assert rss["whole run"] >= rss["coordinator"] + rss.get("worker", 0.0)
    in_process, _ = run(corpus_url, workers=0, batch_size=10)
    assert in_process.coordinator_batches == 0  # all its batches are done here anyway
    assert in_process.peak_rss_mb["whole run"] == in_process.peak_rss_mb["coordinator"]


def test_a_worker_process_starts_without_the_database_stack() -> None:
    """A worker imports the transform, not SQLAlchemy or the drivers (0.2 s of its start)."""
    code = (
        "import sys, xmlmigrate.run.workers, xmlmigrate.run.transform; "
        "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'pyodbc', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux /proc only")
def test_peak_memory_is_this_processs_own_and_can_start_again() -> None:
    """The peak counts this process's own memory (a spawned worker's ru_maxrss also counts the
    coordinator it was forked from), and perf pipeline starts it again after its reference
    pass, so the run's peak is the run's."""
    from xmlmigrate.run.workers import peak_rss_mb, reset_peak_rss

    block = bytearray(200 * 2**20)  # touched: resident
    block[::4096] = b"x" * len(block[::4096])
    high = peak_rss_mb()
    del block
    assert reset_peak_rss()
    assert peak_rss_mb() < high - 150
    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"y" * len(ballast[::4096])
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:  # spawned as the workers are: fork, then exec
        own, inherited = pool.apply(_peaks)
    del ballast
    # the worker's own peak, against what ru_maxrss says of it: the forked coordinator's
    assert own < 250 <= inherited, (own, inherited)


def _peaks() -> tuple[float, float]:
    import resource

    from xmlmigrate.run.workers import peak_rss_mb

    return peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_BIG_BLOCKS = """
import sys
from xmlmigrate.run.workers import return_big_blocks

def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) / 1024

ok = return_big_blocks() if sys.argv[1] == "on" else True
before = rss()
for _ in range(3):  # a batch arrives, is read, is freed: three times
    block = b"\\x01" * (16 * 2**20)
    del block
print(ok, rss() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_a_workers_freed_batches_go_back_to_the_system() -> None:
    """A worker's 16 MiB batches, once freed, leave no resident heap behind: without the
    setting, glibc serves the second one from the heap and keeps it there."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("the setting is glibc's")
    grew = {}
    for mode in ("on", "off"):
        out = subprocess.run(
            [sys.executable, "-c", _BIG_BLOCKS, mode], capture_output=True, text=True, check=True
        ).stdout.split()
        assert out[0] == "True"
        grew[mode] = float(out[1])
    assert grew["on"] < 4 and grew["off"] > 12, grew

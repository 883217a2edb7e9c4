"""Faults an operator meets, on SQLite: a full disk, a second run on the same file, source rows
the schema does not expect, signals, a killed coordinator, exit statuses and one-line errors.
(Server faults — a lost connection, leases across processes — are in tests/db/test_faults.py.)"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from tests.contracts import ENGINE_CC, engine_contract
from tests.corpus import sqlite_corpus
from tests.unit.test_cli import run_cli

from xmlmigrate.cli import main
from xmlmigrate.cli import migrate as migrate_cli
from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.db.lease import Lease, Partition
from xmlmigrate.db.schema import build_schema
from xmlmigrate.errors import (
    EXIT_FAILED,
    EXIT_INFRASTRUCTURE,
    EXIT_INTERRUPTED,
    EXIT_LEASE_BUSY,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_TOO_MANY_REJECTED,
    EXIT_USAGE,
    InfrastructureError,
    LeaseBusy,
    SourceError,
)
from xmlmigrate.ledger import ledger_problems
from xmlmigrate.run import pipeline
from xmlmigrate.run.pipeline import run_migration

CONTRACT = engine_contract()
SCHEMA = build_schema(CONTRACT)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _loaded(tmp_path: Path, n: int, profile: str = "small", edge_rate: float = 0.0) -> str:
    return sqlite_corpus(
        tmp_path / "f.db", n, profile=profile, edge_rate=edge_rate, contract=ENGINE_CC
    )


def _statuses(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(SCHEMA.log.c.status, sa.func.count()).group_by(SCHEMA.log.c.status)
        )
        out = {str(s): int(n) for s, n in rows}
    engine.dispose()
    return out


# -- infrastructure errors are not the documents' fault -------------------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """A SQLite file that can grow by a few pages only: "database or disk is full"."""
    url = _loaded(tmp_path, 60)
    with sqlite3.connect(tmp_path / "f.db") as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    room = [pages + 12]

    def limit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {room[0]}")

    sa.event.listen(sa.engine.Engine, "connect", limit)
    try:
        yield url, room
    finally:
        sa.event.remove(sa.engine.Engine, "connect", limit)


def test_a_full_disk_stops_the_run_and_logs_no_app_failed(full_disk: tuple[str, list[int]]) -> None:
    url, room = full_disk
    with pytest.raises(InfrastructureError, match="database or disk is full"):
        run_migration(MigrationConfig(db_url=url, batch_size=10, workers=0), CONTRACT)
    logged = _statuses(url)
    assert "failed" not in logged  # before: healthy apps were bisected and logged failed
    assert 0 < logged.get("success", 0) < 60  # the batches before the disk filled stay
    room[0] = 1_000_000  # space again: a plain resume migrates the rest
    stats = run_migration(MigrationConfig(db_url=url, batch_size=10, workers=0), CONTRACT)
    assert _statuses(url) == {"success": 60} and stats.success == 60 - logged["success"]
    engine = make_engine(url)
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()


def test_a_full_disk_is_one_line_and_exit_status_3(
    full_disk: tuple[str, list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = full_disk
    assert main(
        [
            "run",
            "--contract",
            str(ENGINE_CC),
            "--db",
            url,
            "--batch-size",
            "10",
            "--workers",
            "0",
            "-q",
        ]
    ) == (EXIT_INFRASTRUCTURE)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk is full" in err and "Traceback" not in err


# -- the run lease -------------------------------------------------------------------------


def test_a_second_run_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = _loaded(tmp_path, 5)
    engine = make_engine(url)
    with Lease(engine, SCHEMA.lease, Partition(), "a" * 32):
        with pytest.raises(LeaseBusy, match="another run is writing to this SQLite file"):
            run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT)
        out = run_cli("run", "--contract", str(ENGINE_CC), "--db", url, "-q")
        assert out.returncode == EXIT_LEASE_BUSY and out.stderr.count("\n") == 1
    engine.dispose()
    assert run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT).success == 5


bounds = st.one_of(st.none(), st.integers(-20, 20))
partitions = st.builds(
    lambda s, e, m, i: Partition(s, e, m, i % m if m else 0),
    bounds,
    bounds,
    st.one_of(st.none(), st.integers(1, 6)),
    st.integers(0, 5),
)


@given(partitions, partitions)
def test_partitions_overlap_exactly_when_an_app_id_is_in_both(a: Partition, b: Partition) -> None:
    def members(p: Partition) -> set[int]:  # bounds are within ±20: ±100 stands for unbounded
        lo = -100 if p.start is None else p.start
        hi = 100 if p.end is None else p.end
        return {x for x in range(lo, hi + 1) if p.modulo is None or x % p.modulo == p.instance}

    assert a.overlaps(b) == b.overlaps(a) == bool(members(a) & members(b))


# -- source rows the schema does not expect ---------------------------------------------------


def _source(tmp_path: Path, ddl: str, rows: list[tuple[Any, Any]]) -> str:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as conn:
        conn.execute(ddl)
        conn.executemany("INSERT INTO app_xml VALUES (?, ?)", rows)
    return f"sqlite:///{path}"


def _doc(app_id: int | str) -> str:
    return (
        (FIXTURES / "bom.xml")
        .read_text(encoding="utf-8-sig")
        .replace('ID="', f'ID="{app_id}" X="', 1)
    )


@pytest.mark.parametrize(
    ("bad", "what"),
    [(1.5, "not an integer"), ("abc", "not an integer"), (None, "a NULL app_id")],
    ids=["real", "text", "null"],
)
def test_app_ids_that_cannot_be_read_in_order_refuse_the_run(
    tmp_path: Path, bad: Any, what: str
) -> None:
    url = _source(
        tmp_path, "CREATE TABLE app_xml (app_id INTEGER, xml TEXT)", [(1, _doc(1)), (bad, _doc(2))]
    )
    with pytest.raises(SourceError, match=what):  # before: an endless loop, a traceback, a skip
        run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT)
    out = run_cli("run", "--contract", str(ENGINE_CC), "--db", url, "-q")
    assert out.returncode == EXIT_USAGE and out.stderr.count("\n") == 1


def test_source_columns_of_the_wrong_type_refuse_the_run(tmp_path: Path) -> None:
    url = _source(tmp_path, "CREATE TABLE app_xml (app_id TEXT PRIMARY KEY, xml TEXT)", [])
    with pytest.raises(SourceError, match=r"app_xml\.app_id is TEXT, not an integer type"):
        run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT)


def test_null_xml_and_out_of_range_ids_are_rejected_and_every_row_is_read(tmp_path: Path) -> None:
    rows: list[tuple[Any, Any]] = [
        (-3_000_000_000, _doc(-3_000_000_000)),  # below -2^31: never read before
        (3, None),  # NULL xml: before, failed internal_error and retried forever
        (2**40, _doc(2**40)),  # beyond the INT key of app_base
        (7, _doc(7)),
    ]
    url = _source(tmp_path, "CREATE TABLE app_xml (app_id INTEGER PRIMARY KEY, xml TEXT)", rows)
    stats = run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT)
    engine = make_engine(url)
    with engine.connect() as conn:
        log = {
            int(a): (s, r)
            for a, s, r in conn.execute(
                sa.select(SCHEMA.log.c.app_id, SCHEMA.log.c.status, SCHEMA.log.c.reason)
            )
        }
    engine.dispose()
    assert set(log) == {-3_000_000_000, 3, 2**40, 7} and stats.records == 4
    assert log[3][0] == "rejected" and log[3][1].startswith("xml_missing")
    assert log[2**40][0] == "rejected" and "out of range" in log[2**40][1]
    assert log[-3_000_000_000][0] == "rejected" and "not positive" in log[-3_000_000_000][1]
    assert log[7][0] == "success"
    again = run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT)
    assert again.pending == 0  # nothing retried forever


# -- exit statuses ---------------------------------------------------------------------------


def test_exit_status_says_whether_the_run_succeeded(tmp_path: Path) -> None:
    garbage = [(i, f"not xml at all {i}") for i in range(1, 11)]
    url = _source(tmp_path, "CREATE TABLE app_xml (app_id INTEGER PRIMARY KEY, xml TEXT)", garbage)
    out = run_cli(
        "run", "--contract", str(ENGINE_CC), "--db", url, "-q"
    )  # every document rejected: before, exit 0
    assert out.returncode == EXIT_TOO_MANY_REJECTED and "--max-rejected" in out.stderr
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("DELETE FROM processing_log")
    assert (
        run_cli(
            "run", "--contract", str(ENGINE_CC), "--db", url, "-q", "--max-rejected", "100%"
        ).returncode
        == EXIT_OK
    )
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("DELETE FROM processing_log")
    assert run_cli(
        "run", "--contract", str(ENGINE_CC), "--db", url, "-q", "--max-rejected", "9"
    ).returncode == (EXIT_TOO_MANY_REJECTED)
    bad = run_cli("run", "--contract", str(ENGINE_CC), "--db", url, "-q", "--max-rejected", "lots")
    assert bad.returncode == EXIT_USAGE and "--max-rejected takes" in bad.stderr


def test_an_app_that_failed_makes_the_run_exit_1(tmp_path: Path) -> None:
    docs = [
        (i, (FIXTURES / name).read_text(encoding="utf-8-sig"))
        for i, name in ((21, "shared_con_id_a.xml"), (22, "shared_con_id_b.xml"))
    ]
    url = _source(tmp_path, "CREATE TABLE app_xml (app_id INTEGER PRIMARY KEY, xml TEXT)", docs)
    out = run_cli("run", "--contract", str(ENGINE_CC), "--db", url, "-q")
    assert out.returncode == EXIT_FAILED and "1 apps failed" in out.stderr
    assert "Records: 2" in out.stdout


# -- signals and a dead coordinator -----------------------------------------------------------


def _start_run(url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xmlmigrate",
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
        env=env,
    )


def _wait_for_logged(path: Path, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(path, timeout=1) as conn:
                if conn.execute("SELECT count(*) FROM processing_log").fetchone()[0] >= at_least:
                    return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError("the run logged nothing in time")


@pytest.mark.parametrize(
    ("signals", "status"),
    [((signal.SIGTERM,), EXIT_TERMINATED), ((signal.SIGINT,), EXIT_INTERRUPTED)],
    ids=["SIGTERM", "Ctrl-C"],
)
def test_a_signal_commits_what_is_transformed_and_ends_with_the_summary(
    tmp_path: Path, signals: tuple[signal.Signals, ...], status: int
) -> None:
    url = _loaded(tmp_path, 400, profile="realistic")
    proc = _start_run(url, "--batch-size", "5", "--workers", "0")
    _wait_for_logged(tmp_path / "f.db", 5)
    for sig in signals:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "Records:" in out and "Traceback" not in err
    engine = make_engine(url)
    assert ledger_problems(engine, SCHEMA) == []
    with engine.connect() as conn:
        finished = conn.execute(sa.select(SCHEMA.runs.c.finished_at)).scalar_one()
        logged = conn.execute(sa.select(sa.func.count()).select_from(SCHEMA.log)).scalar_one()
    engine.dispose()
    assert finished is not None and 0 < logged < 400
    assert run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT).records == 400 - logged


def test_a_second_ctrl_c_aborts_at_once_with_one_line(tmp_path: Path) -> None:
    url = _loaded(tmp_path, 400, profile="realistic")
    proc = _start_run(url, "--batch-size", "50", "--workers", "2")
    _wait_for_logged(tmp_path / "f.db", 1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED
    assert "Traceback" not in err and err.count("\n") <= 1


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads processes from /proc (Linux)")
def test_workers_exit_when_their_coordinator_is_killed_during_start_up(tmp_path: Path) -> None:
    url = _loaded(tmp_path, 50)
    proc = _start_run(url, "--workers", "2", "--batch-size", "5")
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [k for k in _children(proc.pid) if "spawn_main" in _cmdline(k)]
        time.sleep(0.01)
    assert workers, "no worker process started"
    proc.kill()  # SIGKILL: no cleanup in the coordinator at all
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "orphaned workers kept running"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


# -- one-line errors and small things ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "status", "needle"),
    [
        (["status", "--db", "x.db"], EXIT_USAGE, "sqlite:///x.db"),
        (
            ["run", "--db", "postgresql+psycopg://u@127.0.0.1:abc/db"],
            EXIT_USAGE,
            "bad database URL",
        ),
        (["run", "--db", "postgresql+psycopg://u@127.0.0.1:70000/db"], EXIT_USAGE, "65535"),
        (
            ["run", "--db", "postgresql+psycopg://u@127.0.0.1:1/db", "-q"],
            EXIT_USAGE,  # the first connection: --db is wrong, a retry cannot help (issue 22)
            "connection refused at 127.0.0.1:1",
        ),
        (["contract", "explain", "--xml", "/nonexistent/doc.xml"], EXIT_USAGE, "No such file"),
        (["perf", "baseline", "--compare", "/nonexistent/old.json"], EXIT_USAGE, "No such file"),
        (["contract", "check", "/nonexistent/c.toml"], EXIT_USAGE, "cannot read contract"),
    ],
)
def test_errors_are_one_line_with_an_exit_status(
    args: list[str], status: int, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_a_missing_odbc_library_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pyodbc", None)  # import fails as without libodbc.so.2
    url = _loaded(tmp_path, 1)
    code = main(
        [
            "run",
            "--contract",
            str(ENGINE_CC),
            "--db",
            "mysql+pyodbc://root@127.0.0.1:3306/test",
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert code == EXIT_USAGE and "apt-get install unixodbc" in err and url


def test_report_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    bench = (
        Path(__file__).resolve().parents[2]
        / ".benchmarks/Linux-CPython-3.11-64bit/0001_baseline.json"
    )
    assert main(["perf", "report", str(bench), "--out", str(tmp_path / "r")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "xmlmigrate[bench]" in err and err.count("\n") == 1


def test_python_dash_m_status_json_and_log_levels(tmp_path: Path) -> None:
    url = _loaded(tmp_path, 6)
    version = subprocess.run(
        [sys.executable, "-m", "xmlmigrate", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("xmlmigrate ")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "xmlmigrate",
            "-v",
            "run",
            "--contract",
            str(ENGINE_CC),
            "--db",
            url,
            "-q",
            "--workers",
            "0",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "INFO xmlmigrate.db.lease: lease taken" in out.stderr
    quiet = run_cli("run", "--contract", str(ENGINE_CC), "--db", url, "-q", "--log-level", "error")
    assert quiet.stderr == ""
    status = run_cli("status", "--db", url, "--json")
    data = json.loads(status.stdout)
    assert data["documents"] == 6 and data["by_status"] == {"success": 6}
    assert data["pending"] == 0 and len(data["recent_runs"]) == 1


def test_out_of_memory_stops_the_run_and_logs_no_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _loaded(tmp_path, 5)

    def exhausted(*_args: Any, **_kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr("xmlmigrate.run.transform.parse_document", exhausted)
    assert (
        main(["run", "--contract", str(ENGINE_CC), "--db", url, "--workers", "0", "-q"])
        == EXIT_INFRASTRUCTURE
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of memory" in err
    assert _statuses(url) == {}  # before: every app logged failed internal_error


def test_sql_server_leases_use_applocks_in_one_batch_each() -> None:
    """No server here: the T-SQL the lease sends, and what it does with the answers."""
    from xmlmigrate.db.lease import _SessionLocks

    class Answer:
        def __init__(self, value: int) -> None:
            self.value = value

        def scalar(self) -> int:
            return self.value

    class FakeMssql:
        dialect = type("D", (), {"name": "mssql"})()
        # no engine of the tool's: the default lock timeout
        engine = type("E", (), {"url": sa.engine.make_url("mssql+pyodbc://host/db")})()

        def __init__(self, answers: list[int]) -> None:
            self.sent: list[tuple[str, dict[str, Any]]] = []
            self.answers = answers

        def execute(self, statement: Any, params: dict[str, Any]) -> Answer:
            self.sent.append((str(statement), params))
            return Answer(self.answers.pop(0))

    conn = FakeMssql([0, 1, 0])
    locks = _SessionLocks(conn)  # type: ignore[arg-type]
    locks.lock_mutex()
    assert locks.take("ab" * 16) is True
    assert locks.held_elsewhere("cd" * 16) is True  # APPLOCK_TEST 0: cannot be granted
    mutex, take, test = (sql for sql, _ in conn.sent)
    assert mutex.startswith("SET NOCOUNT ON;") and "@LockOwner = 'Transaction'" in mutex
    assert "sp_getapplock" in take and "@LockOwner = 'Session'" in take
    assert conn.sent[1][1] == {"n": "xmlmigrate_lease_" + "ab" * 16, "t": 0}
    assert "APPLOCK_TEST('public', :n, 'Exclusive', 'Session')" in test
    with pytest.raises(LeaseBusy, match="claim lock"):
        _SessionLocks(FakeMssql([-1, -1, -1])).lock_mutex()  # type: ignore[arg-type]


def test_ctrl_c_while_the_workers_start_is_one_interrupted_run(tmp_path: Path) -> None:
    """The terminal's Ctrl-C reaches the whole process group; while worker processes were
    still importing it stopped them with KeyboardInterrupt tracebacks (30–90 lines) and read
    as a crashed worker (exit 1). Now: exit 130, no traceback, no crash, a rerun finishes."""
    url = _loaded(tmp_path, 200, profile="small")
    env = {**os.environ, "COLUMNS": "120"}
    for delay in (0.0, 0.05, 0.15):
        command = [sys.executable, "-m", "xmlmigrate", "run", "--contract", str(ENGINE_CC)]
        command += ["--db", url, "-q", "--batch-size", "10", "--workers", "2"]
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group, as a terminal's job
        )
        deadline = time.monotonic() + 60
        while not _children(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)  # a worker is starting (importing): the Ctrl-C lands there
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
        assert "Traceback" not in err and "crashed" not in err, (delay, err)
        assert proc.returncode in (EXIT_INTERRUPTED, 0), (delay, proc.returncode, err)
    rerun = run_migration(MigrationConfig(db_url=url, workers=0), CONTRACT)
    engine = make_engine(url)
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()
    assert rerun.failed == 0


# -- issue 22: a closed stdout, Ctrl-C before the first batch or during the summary, generate --


def _run_rows(url: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(SCHEMA.runs.c.finished_at, SCHEMA.runs.c.records)).all()
        assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()
    return [tuple(r) for r in rows]


def test_a_closed_stdout_still_finishes_the_run_and_writes_metrics(tmp_path: Path) -> None:
    """Before: rich's broken-pipe handler exited 1 silently and --metrics-out was never
    written (it came after the summary)."""
    url = _loaded(tmp_path, 30)
    metrics = tmp_path / "m.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "xmlmigrate", "run", "--contract", str(ENGINE_CC), "--db", url,
         "-q", "--workers", "0", "--batch-size", "10", "--metrics-out", str(metrics)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader quit before the summary (as `| head -1` does)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == EXIT_OK, err
    assert "Traceback" not in err and "Exception ignored" not in err and err == ""
    assert json.loads(metrics.read_text())["success"] == 30
    assert _run_rows(url)[0][1] == 30
    metrics.unlink()  # a run with nothing to do writes its metrics too (before: no file)
    again = ["run", "--contract", str(ENGINE_CC), "--db", url, "-q", "--metrics-out", str(metrics)]
    assert main(again) == EXIT_OK and json.loads(metrics.read_text())["records"] == 0


def _signal_at(monkeypatch: pytest.MonkeyPatch, name: str, sig: int = signal.SIGINT) -> None:
    """Send ``sig`` to this process when the pipeline calls ``name`` (before its stop flag)."""
    original = getattr(pipeline, name)

    def signalled(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        os.kill(os.getpid(), sig)
        return result

    monkeypatch.setattr(pipeline, name, signalled)


@pytest.mark.parametrize(
    ("where", "sig", "status"),
    [
        ("check_source", signal.SIGINT, EXIT_INTERRUPTED),
        ("start_run", signal.SIGINT, EXIT_INTERRUPTED),
        ("start_run", signal.SIGTERM, EXIT_TERMINATED),
    ],
    ids=["ctrl-c-in-setup", "ctrl-c-at-run-row", "sigterm-at-run-row"],
)
def test_a_signal_before_the_first_batch_is_an_interrupted_run_with_its_summary(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
    sig: int,
    status: int,
) -> None:
    """Before: KeyboardInterrupt in the run's setup: main's one line, no summary, and (after
    start_run) the run row left unfinished."""
    url = _loaded(tmp_path, 40)
    _signal_at(monkeypatch, where, sig)
    metrics = tmp_path / "m.json"
    args = ["run", "--contract", str(ENGINE_CC), "--db", url, "-q", "--workers", "0"]
    code = main([*args, "--batch-size", "10", "--metrics-out", str(metrics)])
    out, err = capsys.readouterr()
    assert code == status, out + err
    assert "Records: 0" in out and "interrupted before any batch committed" in out.lower()
    assert "Traceback" not in err
    assert _run_rows(url) == [(_run_rows(url)[0][0], 0)] and _run_rows(url)[0][0] is not None
    assert json.loads(metrics.read_text())["interrupted"] is True
    monkeypatch.undo()
    assert main([*args]) == EXIT_OK  # a rerun migrates every app


def test_a_signal_while_the_summary_prints_does_not_cut_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: Ctrl-C once the run had finished cut the summary and exited 130; the run
    migrated every app: its summary is whole and its status is its own."""
    url = _loaded(tmp_path, 20)
    original = migrate_cli.print_summary

    def signalled(*args: Any, **kwargs: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        original(*args, **kwargs)

    monkeypatch.setattr(migrate_cli, "print_summary", signalled)
    code = main(["run", "--contract", str(ENGINE_CC), "--db", url, "-q", "--workers", "0"])
    out, _err = capsys.readouterr()
    assert code == EXIT_OK and "Records: 20" in out and "Time by stage" in out


def test_ctrl_c_during_generate_says_what_was_inserted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: main's message for a run ('finished batches are committed, the rest stays
    pending'); now what generate did: documents inserted and committed, the rest not made."""
    original = migrate_cli.insert_documents

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        chunks = kwargs["on_chunk"]

        def on_chunk(done: int, size: int) -> None:
            chunks(done, size)
            if done >= 200:
                raise KeyboardInterrupt

        return original(*args, **{**kwargs, "on_chunk": on_chunk})

    monkeypatch.setattr(migrate_cli, "insert_documents", interrupted)
    url = f"sqlite:///{tmp_path / 'g.db'}"
    code = main(["generate", "--db", url, "--count", "500", "--size-profile", "small", "-q"])
    err = capsys.readouterr().err
    assert code == EXIT_INTERRUPTED
    assert err.count("\n") == 1 and "200 documents inserted and committed" in err, err
    assert "300" in err and "not generated" in err and "pending" not in err
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SCHEMA.source)).scalar() == 200
    engine.dispose()


@pytest.mark.parametrize(
    "command",
    [["-m", "xmlmigrate"], ["-c", "from xmlmigrate._entry import main; raise SystemExit(main())"]],
    ids=["python -m", "console script"],
)
def test_ctrl_c_while_the_modules_load_is_one_line(tmp_path: Path, command: list[str]) -> None:
    """A Ctrl-C while Python still imports the tool: one line and exit 130 (before: a
    KeyboardInterrupt traceback from the middle of an import).

    The tool answers from its first module on. ``-X importtime`` says when that is: each import
    prints a line as it completes, so once ``xmlmigrate._entry``'s line and one after it (an
    import made by ``main``) are out, the handlers are in. Before that is the interpreter's own
    start (site, runpy: about 10 ms here), which no module of the tool runs in; a signal sent
    at a fixed 20 ms landed there, or not, by the machine's load."""
    for delay in (0.0, 0.03, 0.1):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-X",
                "importtime",
                *command,
                "status",
                "--db",
                f"sqlite:///{tmp_path / 'x.db'}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        seen: list[str] = []
        for line in proc.stderr:
            seen.append(line)
            if any(seen_line.rstrip().endswith("xmlmigrate._entry") for seen_line in seen[:-1]):
                break
        else:
            pytest.fail(f"xmlmigrate._entry was never imported: {''.join(seen)[-2000:]}")
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _out, rest = proc.communicate(timeout=60)
        err = "".join(seen) + rest
        assert "Traceback" not in err, (delay, err[-3000:])
        assert proc.returncode in (EXIT_INTERRUPTED, EXIT_USAGE), (delay, proc.returncode, rest)

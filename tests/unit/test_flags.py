"""Issue 22: flags that were accepted and ignored, --workers without a cap, destructive
commands without a confirmation, and a run's advice for failures a retry cannot fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.corpus import sqlite_corpus
from tests.unit.test_cli import run_cli

from xmlmigrate.bench.speed import parse_only
from xmlmigrate.cli import main
from xmlmigrate.cli.migrate import run_exit_code
from xmlmigrate.config import MigrationConfig, max_workers
from xmlmigrate.errors import EXIT_FAILED
from xmlmigrate.ledger import log_rows
from xmlmigrate.model import Outcome, RunStats, clip_reason, reason_group

# --workers -------------------------------------------------------------------------------


def test_workers_above_the_cap_is_exit_2_with_a_hint(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    proc = run_cli("run", "--db", db, "--workers", "500", "--limit", "1", "-q")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--workers" in lines[0] and str(max_workers()) in lines[0]
    assert not (tmp_path / "none.db").exists()  # refused before anything started


def test_the_cap_follows_the_cpu_count() -> None:
    assert max_workers() == 4 * (os.cpu_count() or 1)
    with pytest.raises(ValueError, match="at most"):
        MigrationConfig(workers=max_workers() + 1)
    MigrationConfig(workers=max_workers())  # the cap itself is allowed


def test_never_more_workers_than_batches_pending() -> None:
    config = MigrationConfig(workers=3, batch_size=100)
    assert config.resolved_workers(1) == 1  # one batch: one process, not three
    assert config.resolved_workers(10) == 1
    assert config.resolved_workers(201) == 3
    assert config.resolved_workers(100_000) == 3
    assert MigrationConfig(workers=0).resolved_workers(100_000) == 0


# perf pipeline / baseline: every run flag honoured or refused -----------------------------


@pytest.mark.parametrize(
    "flag",
    [
        ("--cluster", "local:2"),
        ("--retry-failed",),
        ("--retry-rejected",),
        ("--changed",),
        ("--max-rejected", "5"),
    ],
    ids=lambda f: f[0],
)
@pytest.mark.parametrize("perf", ["pipeline", "baseline"])
def test_perf_refuses_run_flags_it_does_not_honour(
    tmp_path: Path, perf: str, flag: tuple[str, ...]
) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    proc = run_cli("perf", perf, "--db", db, *flag, "-q")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and flag[0] in lines[0] and f"perf {perf}" in lines[0], lines
    assert not (tmp_path / "none.db").exists()


def test_perf_baseline_refuses_metrics_out_it_would_not_write(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    proc = run_cli("perf", "baseline", "--db", db, "--metrics-out", str(tmp_path / "m.json"))
    assert proc.returncode == 2 and "--metrics-out" in proc.stderr and "--out" in proc.stderr
    assert not (tmp_path / "none.db").exists()


def test_perf_pipeline_honours_modulo_and_source(tmp_path: Path) -> None:
    url = sqlite_corpus(tmp_path / "p.db", 12)
    proc = run_cli("perf", "pipeline", "--db", url, "--modulo", "2", "--modulo-instance", "0", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "on 6 documents" in proc.stdout  # the run and the parse-only reference alike

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table staging (app_id integer primary key, xml text)"))
        conn.execute(sa.text("insert into staging select app_id, xml from app_xml limit 4"))
    engine.dispose()
    proc = run_cli("perf", "pipeline", "--db", url, "--source", "staging", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "on 4 documents" in proc.stdout
    assert "Records: 4 " in proc.stdout
    # the parse-only reference reads the same table (before: app_xml's 12 documents)
    assert run_cli("clean", "--db", url, "--yes").returncode == 0
    assert parse_only(MigrationConfig(db_url=url, source="staging"))[0] == 4


# init --drop and clean: confirmation ------------------------------------------------------


def _migrated(tmp_path: Path) -> str:
    url = sqlite_corpus(tmp_path / "c.db", 6)
    assert run_cli("run", "--db", url, "-q").returncode == 0
    return url


def _logged(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("select count(*) from processing_log")).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [("clean",), ("init", "--drop")])
def test_destructive_commands_refuse_without_a_terminal_or_yes(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    url = _migrated(tmp_path)
    proc = run_cli(*command, "--db", url)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--yes" in lines[0]
    assert "6 apps logged" in lines[0] and "1 run" in lines[0], lines
    assert _logged(url) == 6  # nothing deleted

    done = run_cli(*command, "--db", url, "--yes")
    assert done.returncode == 0, done.stderr
    assert _logged(url) == 0


@pytest.mark.parametrize("command", [["clean"], ["init", "--drop"]])
def test_destructive_commands_ask_on_a_terminal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    url = _migrated(tmp_path)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["n", "y"])
    asked: list[str] = []

    def answer(prompt: str = "") -> str:
        asked.append(prompt)
        return next(answers)

    monkeypatch.setattr("builtins.input", answer)
    assert main([*command, "--db", url]) == 2
    assert _logged(url) == 6 and "6 apps logged" in asked[0]
    assert "not confirmed" in capsys.readouterr().err
    assert main([*command, "--db", url]) == 0
    assert _logged(url) == 0


def test_clean_with_nothing_to_delete_does_not_ask(tmp_path: Path) -> None:
    url = sqlite_corpus(tmp_path / "e.db", 2)  # schema and documents, nothing migrated
    proc = run_cli("clean", "--db", url)
    assert proc.returncode == 0, proc.stderr


# failures a retry cannot fix ---------------------------------------------------------------

UNIQUE = (
    'UniqueViolation: duplicate key value violates unique constraint "app_contact_base_pkey" '
    "(Key (con_id)=(5) already exists.)"
)


def _failed(*reasons: str) -> RunStats:
    stats = RunStats()
    for i, reason in enumerate(reasons):
        stats.add_outcome(Outcome(i, "failed", stage="write", reason=reason))
    return stats


def test_duplicate_key_failures_do_not_promise_a_retry(capsys: pytest.CaptureFixture[str]) -> None:
    stats = _failed(UNIQUE, "duplicate_key: app_contact_base {'con_id': 5} was already written")
    assert run_exit_code(stats, (50.0, True)) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "--retry-failed" not in err
    assert "on_duplicate" in err and "keep_existing" in err and "key" in err


def test_mixed_failures_say_which_a_retry_helps(capsys: pytest.CaptureFixture[str]) -> None:
    stats = _failed(UNIQUE, "OperationalError: deadlock detected")
    assert run_exit_code(stats, (50.0, True)) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "1 of them" in err and "--retry-failed" in err and "keep_existing" in err


def test_reasons_are_never_cut_mid_name() -> None:
    group = reason_group(UNIQUE)
    assert '"app_contact_base_pkey"' in group  # before: ...constraint "app_contact_bas
    long = "malformed: " + " ".join(f"element_{i}" for i in range(200))
    cut = clip_reason(long, 100)
    assert len(cut) <= 100 and cut.endswith("…")
    assert cut[:-1].rstrip() in long and cut[:-1].rstrip().split()[-1] in long.split()
    assert clip_reason("short", 100) == "short"
    words = " ".join(f"app_contact_base_{i}" for i in range(200))
    (row,) = log_rows([Outcome(1, "failed", stage="write", reason=words)], "r")
    assert row.reason is not None and row.reason.endswith("…") and len(row.reason) <= 1000
    assert row.reason[:-1].rstrip().split()[-1] in words.split()  # before: cut mid-name

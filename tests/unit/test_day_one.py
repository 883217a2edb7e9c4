"""Issue 22: the small things a user meets on day one (demo, status, generate's menu, init,
help texts, exit codes, -v)."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.cli import run_cli

import xmlmigrate.cli as cli
from xmlmigrate.cli import build_parser, main

SMALL = ("--size-profile", "small", "-q")


def test_demo_names_its_database_in_the_next_commands_and_leaves_no_lease_file(
    tmp_path: Path,
) -> None:
    out = run_cli("demo", "--count", "15", *SMALL, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    url = f"sqlite:///{(tmp_path / 'xmlmigrate-demo.db').resolve()}"
    assert f"xmlmigrate status --db {url}" in out.stdout
    assert not list(tmp_path.glob("*.xmlmigrate-lease"))  # item 2
    status = run_cli("status", "--db", url)  # the command the demo suggests works
    assert status.returncode == 0, status.stderr
    assert "15 documents" in status.stdout


def test_a_run_leaves_no_lease_file_and_the_lease_still_excludes(tmp_path: Path) -> None:
    from xmlmigrate.db.lease import Lease, Partition
    from xmlmigrate.errors import LeaseBusy

    db = tmp_path / "l.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    table = sa.Table("lease", sa.MetaData())
    lease_file = Path(f"{db}.xmlmigrate-lease")
    try:
        with Lease(engine, table, Partition(), "a" * 32):
            assert lease_file.exists()
            with pytest.raises(LeaseBusy), Lease(engine, table, Partition(), "b" * 32):
                pass
            assert lease_file.exists()  # the refused run did not remove the holder's file
        assert not lease_file.exists()
        with Lease(engine, table, Partition(), "c" * 32):  # free again
            assert lease_file.exists()
        assert not lease_file.exists()
    finally:
        engine.dispose()


def test_a_lease_file_removed_while_being_locked_is_opened_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder removes the file on release: a run that locked the removed file (opened
    just before) must not count it as the lease, or two runs would hold one each."""
    import fcntl

    from xmlmigrate.db.lease import Lease, Partition

    db = tmp_path / "r.db"
    lease_file = Path(f"{db}.xmlmigrate-lease")
    real_flock = fcntl.flock
    calls: list[int] = []

    def flock(handle: object, operation: int) -> None:
        calls.append(operation)
        if len(calls) == 1:  # between this run's open and its lock: the holder released
            lease_file.unlink()
            lease_file.write_text("")  # and another run opened the name anew
        real_flock(handle, operation)  # type: ignore[arg-type]

    monkeypatch.setattr(fcntl, "flock", flock)
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with Lease(engine, sa.Table("lease", sa.MetaData()), Partition(), "d" * 32):
            assert len(calls) == 2  # locked the file the name leads to now
            assert "run dddddddddddd" in lease_file.read_text()
        assert not lease_file.exists()
    finally:
        engine.dispose()


def _menu(monkeypatch: pytest.MonkeyPatch, answers: Iterator[str]) -> list[str]:
    asked: list[str] = []

    def answer(prompt: str = "") -> str:
        asked.append(prompt)
        if len(asked) > 50:
            raise AssertionError("the menu keeps asking")
        value = next(answers)
        if value == "EOF":
            raise EOFError
        if value == "INT":
            raise KeyboardInterrupt
        return value

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(cli.console, "input", answer)
    return asked


@pytest.mark.parametrize("answers", [["EOF"], ["4", "EOF"]])
def test_generate_menu_on_end_of_input(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answers: list[str],
) -> None:
    _menu(monkeypatch, iter(answers))
    db = f"sqlite:///{tmp_path / 'menu.db'}"
    assert main(["generate", "--db", db, *SMALL]) == 2
    err = capsys.readouterr().err
    assert "no count given" in err and "internal error" not in err
    assert len(err.strip().splitlines()) == 1


def test_generate_menu_on_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _menu(monkeypatch, iter(["INT"]))
    assert main(["generate", "--db", f"sqlite:///{tmp_path / 'menu.db'}", *SMALL]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "batch" not in err and "nothing generated" in err


def test_generate_menu_gives_up_on_non_positive_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _menu(monkeypatch, itertools.chain(["4"], itertools.repeat("-5")))
    assert main(["generate", "--db", f"sqlite:///{tmp_path / 'menu.db'}", *SMALL]) == 2
    assert len(asked) <= 6
    captured = capsys.readouterr()
    assert "no count given" in captured.err
    menu = captured.out.lower()  # the menu's counts are not named like the size profiles
    assert "small" not in menu and "large" not in menu


def test_status_json_config_is_an_object_with_contracts_as_strings(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert run_cli("generate", "--count", "4", "--db", db, *SMALL).returncode == 0
    assert run_cli("run", "--db", db, "-q").returncode == 0
    engine = sa.create_engine(db)
    with engine.begin() as conn:  # a row an older version stored
        conn.execute(
            sa.text(
                "INSERT INTO migration_run (run_id, started_at, config) "
                "VALUES ('0ld', '2020-01-01 00:00:00', :c)"
            ),
            {"c": json.dumps({"contracts": "(PosixPath('provenir_cc'), PosixPath('x.toml'))"})},
        )
    engine.dispose()
    out = run_cli("status", "--db", db, "--json")
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)["recent_runs"]
    configs = {r["run_id"]: r["config"] for r in runs}
    new = next(c for k, c in configs.items() if k != "0ld")
    assert isinstance(new, dict) and new["contracts"] == []
    assert configs["0ld"] == {"contracts": ["provenir_cc", "x.toml"]}


def test_describe_config_stores_contracts_as_strings() -> None:
    from xmlmigrate.config import MigrationConfig
    from xmlmigrate.run.pipeline import describe_config

    config = MigrationConfig(db_url="sqlite://", contracts=(Path("provenir_cc"), Path("a.toml")))
    assert describe_config(config)["contracts"] == ["provenir_cc", "a.toml"]


def test_empty_app_xml_says_so_and_init_says_what_it_did(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    init = run_cli("init", "--db", db)
    assert init.returncode == 0, init.stderr
    assert "(app_xml created, empty)" in init.stdout
    out = run_cli("run", "--db", db, "-q")
    assert out.returncode == 0, out.stderr
    assert "app_xml holds no documents: generate or load some first" in out.stdout
    assert "processing_log already" not in out.stdout
    assert run_cli("generate", "--count", "3", "--db", db, *SMALL).returncode == 0
    again = run_cli("init", "--db", db)
    assert "(app_xml kept, 3 documents)" in again.stdout


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def test_no_help_shows_a_doubled_percent_sign() -> None:
    for prog, parser in _parsers(build_parser()):
        assert "%%" not in parser.format_help(), prog


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("xmlmigrate demo", "--size-profile"),
        ("xmlmigrate demo", "--batch-size"),
        ("xmlmigrate perf calibrate", "--threshold"),
    ],
)
def test_options_have_help(command: str, option: str) -> None:
    parser = dict(_parsers(build_parser()))[command]
    action = next(a for a in parser._actions if option in a.option_strings)
    assert action.help


def test_top_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from xmlmigrate.errors import EXIT_CODES

    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "exit codes" in out.lower()
    for code, meaning in EXIT_CODES:
        assert f"{code} " in out and " ".join(meaning.split())[:40] in out


def test_verbose_logs_what_the_run_did(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'v.db'}"
    assert run_cli("generate", "--count", "6", "--db", db, *SMALL).returncode == 0
    out = run_cli("run", "--db", db, "--batch-size", "4", "-q", "-v")
    assert out.returncode == 0, out.stderr
    info = [line for line in out.stderr.splitlines() if " INFO " in line]
    text = "\n".join(info)
    assert len(info) >= 4, text
    assert "pending" in text and "workers" in text
    assert "batch size 4" in text
    assert "batches committed 2" in text and "success 6" in text

"""Issue 24: no accepted-and-ignored flag anywhere in the command line. Every command the
parser has (found by walking it, so a new one is covered without being named here) is parsed
into a namespace that records which attributes are read, its handler is run as ``main``
dispatches it (``args.func(args)``) on a small SQLite database, and every option the command
accepts must have been read by the handler. An option the handler refuses counts as read: it
read it to refuse it. The measuring parts (the gate's worktrees, the calibration's gates, the
report's plots, the adversarial shapes) are replaced by stand-ins the handler calls after it
has read its arguments."""

from __future__ import annotations

import argparse
import contextlib
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rich.progress
import sqlalchemy as sa

import xmlmigrate.bench.adversarial
import xmlmigrate.bench.gate
import xmlmigrate.bench.report
import xmlmigrate.bench.saved
import xmlmigrate.cli.perf
from xmlmigrate.cli import build_parser
from xmlmigrate.errors import XmlMigrateError

CONTRACT_JSON = (
    Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "predecessor_small.json"
)
# read by ``main`` (the logging set-up) before it dispatches, not by the command's handler
READ_BY_MAIN = frozenset({"verbose", "log_level"})
# ``-q`` means "no progress bar": a command that draws none honours it without reading it
QUIET = "quiet"


class ReadRecorder(argparse.Namespace):
    """A namespace that notes the name of every public attribute read from it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reads: set[str] = set()

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            object.__getattribute__(self, "_reads").add(name)
        return object.__getattribute__(self, name)

    def forget_reads(self) -> None:
        """Forget argparse's own reads while parsing: only the handler's count."""
        self._reads.clear()

    @property
    def reads(self) -> set[str]:
        return set(self._reads)


@dataclass(frozen=True)
class Command:
    """A command the parser offers: its words and the parsers along them, the top first."""

    path: tuple[str, ...]
    parsers: tuple[argparse.ArgumentParser, ...]

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def options(self) -> dict[str, str]:
        """Every option it accepts that its handler must read: dest -> how it is spelt."""
        found: dict[str, str] = {}
        for parser in self.parsers:
            for action in parser._actions:
                if isinstance(
                    action,
                    argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction,
                ):
                    continue
                if action.dest in READ_BY_MAIN:
                    continue
                found[action.dest] = "/".join(action.option_strings) or action.dest
        return found


def commands(
    parser: argparse.ArgumentParser,
    path: tuple[str, ...] = (),
    chain: tuple[argparse.ArgumentParser, ...] = (),
) -> Iterator[Command]:
    """Every command of ``parser``: the parsers that have no subcommands of their own."""
    chain = (*chain, parser)
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield Command(path, chain)
        return
    for group in groups:
        for word, child in group.choices.items():
            yield from commands(child, (*path, word), chain)


@dataclass(frozen=True)
class Workspace:
    """Where the commands run: a database with a few documents migrated, one of them as a
    file, and a folder for what the commands write."""

    db_file: Path
    xml: Path
    out: Path

    @property
    def db(self) -> str:
        return f"sqlite:///{self.db_file}"


def scenarios(ws: Workspace) -> dict[str, list[list[str]]]:
    """The argument lists each command is run with (all their reads counted together). A
    command not named here is run with none. A second list gives an option read only in
    another path (``contract check --sample`` only with a sample to read) its value."""
    db, out = ws.db, ws.out
    perf = {
        "perf pipeline": [["--db", db, "--metrics-out", str(out / "m.json"), "-q"]],
        "perf baseline": [["--db", db, "--runs", "2", "--out", str(out / "b.json"), "-q"]],
        "perf gate": [["--base", "HEAD", "--db", db, "--json", str(out / "gate.json")]],
        "perf calibrate": [
            ["--runs", "1", "--inject", "0", "--json", str(out / "cal.jsonl")],
            ["--saved", "--runs", "2", "--inject", "0", "--json", str(out / "saved.json")],
        ],
        "perf report": [["--latest", "--out", str(out / "report")]],
        "perf adversarial": [["--size", "1"]],
    }
    # the old spellings run the same handlers
    old = {o: perf[f"perf {new}"] for o, new in xmlmigrate.cli.perf.DEPRECATED.items()}
    return {
        "generate": [["--db", db, "--count", "2", "--size-profile", "small", "-q"]],
        "run": [["--db", db, "-q", "--metrics-out", str(out / "run.json")]],
        "init": [["--db", db], ["--db", db, "--drop", "--yes"]],  # --yes: asked with --drop
        "status": [["--db", db]],
        "clean": [["--db", db, "--yes"]],
        "demo": [["--file", str(out / "demo.db"), "--count", "2", "--size-profile", "small", "-q"]],
        "contract check": [[], ["--db", db, "--sample", "2"]],  # --sample: with a sample
        "contract explain": [["--xml", str(ws.xml)]],
        "contract import": [[str(CONTRACT_JSON), "--out", str(out / "c.toml")]],
        **perf,
        **old,
    }


class FakeGateResult:
    """What the stand-in for ``run_gate`` returns: a pass, quickly."""

    verdict = "pass"
    seconds = 1.0
    blocks = 1

    def to_json(self) -> dict[str, object]:
        return {"verdict": self.verdict}


def fake_gate(cfg: object, progress: Callable[[str], None] | None = None) -> FakeGateResult:
    """The stand-in for ``run_gate``: reports progress once, as a gate does, and passes."""
    if progress is not None:
        progress("block 1: A B")
    return FakeGateResult()


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A SQLite file with three small documents generated and migrated, and one document."""
    where = tmp_path_factory.mktemp("every-flag")
    db_file = where / "template.db"
    parser = build_parser()
    for argv in (
        ["generate", "--db", f"sqlite:///{db_file}", "--count", "3", "--size-profile", "small"],
        ["run", "--db", f"sqlite:///{db_file}"],
    ):
        args = parser.parse_args([*argv, "-q"])
        assert args.func(args) == 0, argv
    engine = sa.create_engine(f"sqlite:///{db_file}")
    try:
        with engine.connect() as conn:
            xml = conn.execute(sa.text("SELECT xml FROM app_xml ORDER BY app_id")).scalars().first()
    finally:
        engine.dispose()
    document = where / "one.xml"
    document.write_bytes(xml if isinstance(xml, bytes) else str(xml).encode("utf-8"))
    return db_file, document


@pytest.fixture
def workspace(
    documents: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    """A fresh copy of the database; nothing slow or outside it runs."""
    template, xml = documents
    db_file = tmp_path / "db.sqlite"
    shutil.copyfile(template, db_file)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(tmp_path)  # a default path a command writes to lands here
    monkeypatch.delenv("XMLMIGRATE_DB_URL", raising=False)
    monkeypatch.setattr(xmlmigrate.bench.gate, "run_gate", fake_gate)
    monkeypatch.setattr(xmlmigrate.cli.perf, "print_gate", lambda *a, **k: None)
    monkeypatch.setattr(
        xmlmigrate.bench.saved,
        "calibrate_saved",
        lambda runs, injects, *a, **k: {i: ["pass"] * runs for i in range(len(injects))},
    )
    monkeypatch.setattr(xmlmigrate.cli.perf, "_autosaved", lambda storage: out / "saved.json")
    monkeypatch.setattr(
        xmlmigrate.bench.report, "build_report", lambda *a, **k: (out / "RESULTS.md", [])
    )
    monkeypatch.setattr(xmlmigrate.bench.report, "load_cases", lambda *a, **k: [])
    monkeypatch.setattr(xmlmigrate.bench.adversarial, "measure_shapes", lambda *a, **k: [])
    return Workspace(db_file, xml, out)


@pytest.fixture
def progress_bars(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every rich progress bar made from now on (shown or, with -q, disabled)."""
    made: list[object] = []
    original = rich.progress.Progress.__init__

    def init(self: rich.progress.Progress, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(rich.progress.Progress, "__init__", init)
    return made


def _given(command: Command, argv: Sequence[str]) -> set[str]:
    """The dests of the options spelt out in ``argv`` (``--flag`` or ``--flag=value``)."""
    spellings = {
        spelling: action.dest
        for parser in command.parsers
        for action in parser._actions
        for spelling in action.option_strings
    }
    return {spellings[word.split("=", 1)[0]] for word in argv if word.split("=", 1)[0] in spellings}


def unread_options(
    parser: argparse.ArgumentParser,
    command: Command,
    runs: Sequence[Sequence[str]],
    progress_bars: list[object],
) -> dict[str, str]:
    """The options of ``command`` its handler read in none of ``runs``, and those given in a
    run that did not read them: dest -> the flag (and the run that ignored it)."""
    accepted = command.options()
    read: set[str] = set()
    ignored: dict[str, str] = {}
    for argv in runs:
        args = parser.parse_args([*command.path, *argv], namespace=ReadRecorder())
        args.forget_reads()
        # a refusal ('main' prints its one line): the handler read the option to refuse it
        with contextlib.suppress(XmlMigrateError):
            args.func(args)
        read |= args.reads
        for dest in (_given(command, argv) & accepted.keys()) - args.reads:
            ignored[dest] = f"{accepted[dest]} (ignored in: {' '.join(argv)})"
    exempt = set() if progress_bars else {QUIET}
    unread = {dest: flag for dest, flag in accepted.items() if dest not in read}
    return {dest: flag for dest, flag in {**unread, **ignored}.items() if dest not in exempt}


COMMANDS = list(commands(build_parser()))


def test_the_walk_finds_the_commands_and_every_scenario_names_one(tmp_path: Path) -> None:
    names = {c.name for c in COMMANDS}
    assert {"run", "contract explain", "perf gate", "bench pipeline"} <= names
    ws = Workspace(tmp_path / "db", tmp_path / "x.xml", tmp_path)
    stale = set(scenarios(ws)) - names
    assert not stale, f"scenarios for commands the parser does not have: {sorted(stale)}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name.replace(" ", "-"))
def test_every_option_is_read_by_its_handler(
    command: Command, workspace: Workspace, progress_bars: list[object]
) -> None:
    runs = scenarios(workspace).get(command.name, [[]])
    unread = unread_options(build_parser(), command, runs, progress_bars)
    assert not unread, (
        f"xmlmigrate {command.name} accepts {', '.join(sorted(unread.values()))} but its "
        "handler never reads them: honour them or refuse them"
    )


def test_an_ignored_option_is_reported(workspace: Workspace, progress_bars: list[object]) -> None:
    parser = build_parser()
    [status] = [c for c in commands(parser) if c.name == "status"]
    status.parsers[-1].add_argument("--ignored-by-status", action="store_true")
    runs = scenarios(workspace)["status"]
    unread = unread_options(parser, status, [[*runs[0], "--ignored-by-status"]], progress_bars)
    assert set(unread) == {"ignored_by_status"}
    assert unread["ignored_by_status"].startswith("--ignored-by-status (ignored in: --db ")
    # never given, it is reported all the same: accepted and never read
    unread = unread_options(parser, status, runs, progress_bars)
    assert unread == {"ignored_by_status": "--ignored-by-status"}


# Options of another mode of the command, given: each is honoured or refused (before: accepted
# and dropped without a word)
OF_ANOTHER_MODE = [
    pytest.param(
        "perf calibrate",
        ["--runs", "1", "--inject", "0", "--records", "5", "--rounds", "2"],
        id="calibrate-records-rounds-without-saved",
    ),
    pytest.param(
        "perf calibrate",
        ["--saved", "--runs", "2", "--inject", "0", "--base", "HEAD~1"],
        id="calibrate-saved-with-base",
    ),
    pytest.param(
        "perf report",
        ["bench.json", "--storage", "elsewhere"],
        id="report-files-with-storage",
    ),
]


@pytest.mark.parametrize(("name", "argv"), OF_ANOTHER_MODE)
def test_an_option_given_is_read_in_that_run(
    name: str, argv: list[str], workspace: Workspace, progress_bars: list[object]
) -> None:
    parser = build_parser()
    [command] = [c for c in commands(parser) if c.name == name]
    unread = unread_options(parser, command, [argv], progress_bars)
    ignored = {dest: flag for dest, flag in unread.items() if "(ignored in:" in flag}
    assert not ignored, f"xmlmigrate {name}: {', '.join(sorted(ignored.values()))}"

"""The run's knobs are declared once, on MigrationConfig's fields: the CLI's options, their
defaults and the knob table of docs/performance.md all come from there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xmlmigrate.cli import build_parser, main
from xmlmigrate.cli.common import tuning_config
from xmlmigrate.config import DEFAULT_DB_URL, MigrationConfig, knob_table, options

PERFORMANCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
BEGIN, END = "<!-- knob-table:begin -->\n", "<!-- knob-table:end -->"
TUNING = "tuning (the perf suite sweeps these):"


def _documented_table() -> str:
    text = PERFORMANCE_DOC.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1, f"no knob table in {PERFORMANCE_DOC}"
    return text.split(BEGIN, 1)[1].split(END, 1)[0]


def _run_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    return capsys.readouterr().out


def test_the_documented_knob_table_is_the_declared_one() -> None:
    assert _documented_table() == knob_table(), (
        "docs/performance.md's knob table differs from the knobs MigrationConfig declares: "
        "paste xmlmigrate.config.knob_table() between its knob-table markers"
    )


def test_every_knob_of_run_help_is_in_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    section = _run_help(capsys).split(TUNING, 1)[1].split("\n\n", 1)[0]
    in_help = set(re.findall(r"^  (--[a-z-]+)", section, re.MULTILINE))
    in_table = set(re.findall(r"^\| `(--[a-z-]+)", _documented_table(), re.MULTILINE))
    assert in_help == in_table
    assert {"--workers", "--batch-size", "--max-batch-bytes", "--pooling"} <= in_help


def test_every_declared_option_is_an_option_of_run(capsys: pytest.CaptureFixture[str]) -> None:
    text = _run_help(capsys)
    for _, option in options():
        assert re.search(rf"^  {option.flag}\b", text, re.MULTILINE), option.flag


def test_run_defaults_are_the_fields_defaults() -> None:
    args = build_parser().parse_args(["run", "--db", DEFAULT_DB_URL])
    assert tuning_config(args) == MigrationConfig()


def test_every_option_sets_its_field() -> None:
    given = [
        *("--db", "sqlite:///other.db", "--contract", "a.toml", "--contract", "b.toml"),
        *("--workers", "2", "--threads", "2", "--batch-size", "7", "--max-batch-bytes", "1MiB"),
        *("--no-pooling", "--no-pipelined", "--no-dedup-cache", "--no-check-well-formed"),
        *("--limit", "5", "--source", "staging(app_id, doc)", "--app-id-start", "3"),
        *("--app-id-end", "9", "--modulo", "4", "--modulo-instance", "1"),
        *("--lock-timeout", "2.5", "--retry-failed", "--changed", "--retry-rejected", "x_y"),
    ]
    config = tuning_config(build_parser().parse_args(["run", *given]))
    assert config == MigrationConfig(
        db_url="sqlite:///other.db",
        contracts=(Path("a.toml"), Path("b.toml")),
        workers=2,
        threads=2,
        batch_size=7,
        max_batch_bytes=2**20,
        pooling=False,
        pipelined=False,
        dedup_cache=False,
        check_well_formed=False,
        limit=5,
        source="staging(app_id, doc)",
        app_id_start=3,
        app_id_end=9,
        modulo=4,
        modulo_instance=1,
        lock_timeout=2.5,
        retry_failed=True,
        changed=True,
        retry_rejected=("x_y",),
    )
    unchanged = [f.name for f, _ in options() if getattr(config, f.name) == f.default]
    assert not unchanged, f"options this test does not give: {unchanged}"

"""The gate's options are declared once (``bench.gate_options``): ``xmlmigrate perf gate``, the
pytest plugin's ``--perf-gate-*`` options and :class:`GateConfig` take flag, default, help and
type from there, and a percentage given is held as a fraction."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from xmlmigrate.bench import gate as gate_module
from xmlmigrate.bench import gate_options
from xmlmigrate.bench.gate import GateConfig
from xmlmigrate.bench.saved import normalised
from xmlmigrate.cli import build_parser, main
from xmlmigrate.errors import GateError
from xmlmigrate.testing import verdicts

ROOT = Path(__file__).resolve().parents[2]


def _gate_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    perf = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    perf_parser = perf.choices["perf"]
    sub = next(a for a in perf_parser._actions if isinstance(a, argparse._SubParsersAction))
    gate: argparse.ArgumentParser = sub.choices["gate"]
    return gate


def test_the_cli_flags_and_defaults_are_the_declared_ones() -> None:
    parser = _gate_parser()
    flags = {s: a for a in parser._actions for s in a.option_strings}
    declared = [*gate_options.MEASURING, gate_options.THRESHOLD, gate_options.RECORDS]
    declared += [gate_options.ROUNDS, gate_options.INJECT_HEAD]
    for option in declared:
        action = flags[option.flag()]
        assert action.default == option.default and action.help == option.help
    # what users see: unchanged spellings and defaults
    args = parser.parse_args(["--base", "HEAD"])
    assert (args.threshold, args.blocks, args.max_blocks) == (5.0, 10, 20)
    assert (args.records, args.rounds, args.inject_head) == (40, 4, 0.0)
    assert (args.max_wait, args.max_speed_gap, args.no_confirm) == (25.0, 20.0, False)
    with pytest.raises(SystemExit):
        parser.parse_args(["--base", "HEAD", "--blocks", "0"])


def test_gate_config_defaults_are_the_cli_defaults_as_fractions() -> None:
    cfg = GateConfig(base="x")
    assert (cfg.threshold, cfg.max_wait, cfg.max_speed_gap, cfg.inject_head) == (
        0.05,
        0.25,
        0.20,
        0.0,
    )
    assert (cfg.blocks, cfg.max_blocks, cfg.records, cfg.rounds, cfg.confirm) == (
        10,
        20,
        40,
        4,
        True,
    )
    # the saved comparison leaves out the rounds the gate leaves out
    assert gate_options.MAX_WAIT.default / 100 == gate_module.MAX_WAIT
    waited = {"cpu": 1.0, "yardstick": 1.0, "wall": 1.0, "wait": 0.26}
    assert normalised([waited]) == [] and normalised([dict(waited, wait=0.25)]) == [0.0]


def _cli_config(monkeypatch: pytest.MonkeyPatch, *argv: str) -> GateConfig:
    seen: list[GateConfig] = []

    def fake(cfg: GateConfig, _progress: Any = None) -> Any:
        seen.append(cfg)
        raise GateError("stop here")

    monkeypatch.setattr(gate_module, "run_gate", fake)
    assert main(["perf", "gate", "--base", "HEAD", "--quiet", *argv]) == 2
    return seen[0]


def test_the_cli_builds_the_gate_config_from_the_declarations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _cli_config(monkeypatch) == GateConfig(base="HEAD", repo=Path.cwd())
    cfg = _cli_config(
        monkeypatch,
        *("--threshold", "3", "--blocks", "12", "--max-blocks", "5", "--max-wait", "10"),
        *("--max-speed-gap", "30", "--inject-head", "7.5", "--no-confirm"),
    )
    assert (cfg.threshold, cfg.blocks, cfg.max_blocks) == (0.03, 12, 12)  # at least --blocks
    assert (cfg.max_wait, cfg.max_speed_gap, cfg.inject_head) == (0.10, 0.30, 0.075)
    assert cfg.confirm is False


class _Config:
    """What :class:`verdicts.PerfVerdicts` reads of a pytest config."""

    def __init__(self, root: Path, options: dict[str, Any]) -> None:
        self.rootpath = root
        self.args = ["tests/perf"]
        self.invocation_params = SimpleNamespace(args=("tests/perf",))
        self.option = SimpleNamespace(collectonly=False)
        self.pluginmanager = SimpleNamespace(get_plugin=lambda _name: None)
        self._options = {verdicts.GATE: "HEAD~1", "--db-url": None, **options}

    def getoption(self, name: str, default: Any = None) -> Any:
        return self._options.get(name, default)


def _plugin_config(monkeypatch: pytest.MonkeyPatch, **options: Any) -> GateConfig:
    seen: list[GateConfig] = []

    def fake(cfg: GateConfig, _say: Any) -> Any:
        seen.append(cfg)
        raise GateError("stop here")

    monkeypatch.setattr(verdicts, "run_gate", fake)
    monkeypatch.chdir(ROOT)
    plugin = verdicts.PerfVerdicts(_Config(ROOT, options))  # type: ignore[arg-type]
    plugin.run_gate("HEAD~1", SimpleNamespace(testsfailed=0))  # type: ignore[arg-type]
    assert plugin.error == "stop here"
    return seen[0]


def test_the_plugin_passes_its_perf_gate_options_to_the_gate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = _plugin_config(monkeypatch)
    assert plain == GateConfig(base="HEAD~1", targets=("tests/perf",), repo=ROOT)
    tuned = _plugin_config(
        monkeypatch,
        perf_gate_blocks=12,
        perf_gate_max_blocks=5,
        perf_gate_max_wait=10.0,
        perf_gate_max_speed_gap=30.0,
        perf_gate_no_confirm=True,
        **{verdicts.FAIL_OVER: 3.0, verdicts.INJECT: 7.5},
    )
    assert (tuned.blocks, tuned.max_blocks, tuned.max_wait, tuned.max_speed_gap) == (
        12,
        12,
        0.10,
        0.30,
    )
    assert (tuned.confirm, tuned.threshold, tuned.inject_head) == (False, 0.03, 0.075)


def test_pytest_shows_the_gate_options_with_their_defaults() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    for option in gate_options.MEASURING:
        assert option.flag(gate_options.PLUGIN_PREFIX) in out
    assert "--perf-gate-max-wait=PCT" in out and "(default 25.0 %)" in out
    assert "--perf-fail-over=PCT" in out and "--perf-inject=PCT" in out
    assert "(default 5 %)" in out  # --perf-gate's help names --perf-fail-over's default

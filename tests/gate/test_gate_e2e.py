"""``xmlmigrate perf gate`` end to end on a throwaway git repository with a toy workload: a
commit that adds 10 % work fails the gate, the base against itself does not.

These tests time things, so they run on their own (``pytest -p no:xdist tests/gate``, a CI
stage of its own), never beside other test processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xmlmigrate.bench.gate import GateConfig, run_gate

TOY = """
SIZE = {size}


def work() -> int:
    x = 0
    for i in range(SIZE):
        x ^= i * i
    return x
"""

TEST = """
import pytest

import toy
from xmlmigrate.bench.probe import measured

pytestmark = pytest.mark.gate


@pytest.mark.benchmark(group="gate")
def test_toy(benchmark):
    measured(benchmark, toy.work, rounds=3, counters=lambda result: {"size": toy.SIZE})
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _commit(repo: Path, size: int, message: str) -> str:
    (repo / "src" / "toy" / "__init__.py").write_text(TOY.format(size=size))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def toy_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "toy"
    (repo / "src" / "toy").mkdir(parents=True)
    (repo / "tests" / "perf").mkdir(parents=True)
    (repo / "tests" / "perf" / "test_toy.py").write_text(TEST)
    (repo / "pytest.ini").write_text("[pytest]\nmarkers =\n    gate: timed by the gate\n")
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "gate@example.invalid")
    _git(repo, "config", "user.name", "gate test")
    return repo


def _config(repo: Path, base: str) -> GateConfig:
    return GateConfig(base=base, repo=repo, blocks=10, max_blocks=16, rounds=3)


def test_ten_percent_more_work_fails_and_the_base_against_itself_passes(toy_repo: Path) -> None:
    base = _commit(toy_repo, 1_000_000, "toy workload")
    same = run_gate(_config(toy_repo, base))
    assert same.verdict != "fail", same
    assert same.base_commit == base
    [bench] = same.benchmarks
    assert bench.counter_changes == {}

    _commit(toy_repo, 1_100_000, "ten per cent more work")
    slower = run_gate(_config(toy_repo, base))
    assert slower.verdict == "fail", slower
    [bench] = slower.benchmarks
    failed = [d for d in bench.decisions if d.verdict == "fail"]
    assert failed and all(1.05 < d.ratio < 1.25 and d.low and d.low > 1 for d in failed)
    assert bench.confirmed is not None  # measured again before the verdict
    assert bench.counter_changes == {"size": (1_000_000, 1_100_000)}
    assert not list((toy_repo.parent).glob("xmlmigrate-gate-base-*"))  # worktree removed
    assert "worktree" not in _git(toy_repo, "worktree", "list").split("\n", 1)[-1]


def test_the_cli_exits_1_on_a_regression_and_writes_json(toy_repo: Path, tmp_path: Path) -> None:
    base = _commit(toy_repo, 1_000_000, "toy workload")
    _commit(toy_repo, 1_300_000, "thirty per cent more work")
    out = tmp_path / "gate.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "xmlmigrate.cli", "perf", "gate", "--base", base,
            "--blocks", "10", "--rounds", "2", "--json", str(out), "-q",
        ],
        cwd=toy_repo, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL" in proc.stdout and "test_toy" in proc.stdout
    data = json.loads(out.read_text())["gate"]
    assert data["verdict"] == "fail" and data["base_commit"] == base
    assert data["benchmarks"][0]["counter_changes"] == {"size": [1_000_000, 1_300_000]}

"""The saved-baseline comparison (``--benchmark-compare --perf-fail-over``): the rank
statistics it rests on, its verdicts on made-up rounds, and the pytest options' guard rails."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from itertools import combinations
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from xmlmigrate.bench import gate as gate_module
from xmlmigrate.bench.gate import Decision, GateConfig, _side_command
from xmlmigrate.bench.saved import compare_saved, decide
from xmlmigrate.bench.stats import mann_whitney_null, shift_interval
from xmlmigrate.testing import verdicts


def _u(a: list[float], b: list[float]) -> int:
    return sum(1 for x in a for y in b if x > y)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 3), (3, 3), (4, 2), (5, 5)])
def test_the_exact_null_distribution_counts_every_arrangement(n: int, m: int) -> None:
    counts = mann_whitney_null(n, m)
    assert sum(counts) == math.comb(n + m, n)
    brute = [0] * (n * m + 1)
    for picked in combinations(range(n + m), n):  # ranks of the first sample
        first = list(picked)
        second = [r for r in range(n + m) if r not in picked]
        brute[_u(first, second)] += 1
    assert counts == brute


def test_the_shift_interval_covers_a_known_shift_and_is_none_when_too_small() -> None:
    rng = random.Random(7)
    base = [rng.gauss(0, 0.01) for _ in range(10)]
    head = [rng.gauss(0.1, 0.01) for _ in range(10)]
    estimate, low, high = shift_interval(base, head, 0.01)
    assert low is not None and high is not None and low < 0.1 < high
    assert abs(estimate - 0.1) < 0.02
    assert shift_interval(base[:3], head[:3], 0.01)[1:] == (None, None)


def _rounds(cpu: float, n: int, seed: int, noise: float = 0.005) -> list[dict[str, float]]:
    rng = random.Random(seed)
    return [
        {"cpu": cpu * (1 + rng.gauss(0, noise)), "wall": cpu, "wait": 0.0, "yardstick": 0.01}
        for _ in range(n)
    ]


def test_verdicts_fail_only_beyond_the_threshold_and_outside_no_change() -> None:
    base = _rounds(1.0, 10, 1)
    assert decide(base, _rounds(1.0, 10, 2), 0.05, 0.01).verdict == "pass"
    assert decide(base, _rounds(1.10, 10, 3), 0.05, 0.01).verdict == "fail"
    assert decide(base, _rounds(1.03, 10, 4), 0.05, 0.01).verdict != "fail"
    noisy = decide(base, _rounds(1.10, 10, 5, noise=0.3), 0.05, 0.01)
    assert noisy.verdict == "warn"  # a slowdown the interval cannot tell from none


def test_rounds_that_waited_for_a_cpu_are_left_out_and_counters_compared_exactly() -> None:
    waited = [dict(r, wait=r["wall"]) for r in _rounds(2.0, 10, 6)]
    saved = {"t::a": {"extra_info": {"gate": {"rounds": _rounds(1.0, 10, 1),
                                              "counters": {"rows": 5, "statements": 7}}}},
             "t::b": {"extra_info": {}}}  # fmt: skip
    current = {
        "t::a": {"gate": {"rounds": _rounds(1.0, 10, 2) + waited, "counters": {"rows": 5}}},
        "t::b": {},
        "t::new": {"gate": {"rounds": _rounds(1.0, 10, 2)}},
    }
    [a, b] = compare_saved(current, saved, 0.05)
    assert a.verdict == "pass" and a.decision is not None and a.decision.n == 10
    assert a.counter_changes == {"statements": (7, None)}
    assert b.decision is None and b.verdict == "n/a"


def test_fail_over_without_a_comparison_is_a_usage_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # not a worker
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "--perf-fail-over=5",
         "--collect-only", "-q", "tests/perf/test_gate.py"],
        capture_output=True, text=True, check=False, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--perf-fail-over needs --benchmark-compare" in proc.stderr


# -- what the A/B re-measurement measures (issue 22): the session's selection, not the gate subset
def test_a_gate_given_node_ids_measures_them_and_not_the_gate_subset(tmp_path: Path) -> None:
    ids = ("tests/perf/test_stages.py::test_stage_parse",)
    cfg = GateConfig(base="HEAD~1", targets=("tests/perf",), selection=ids)
    cmd = _side_command(cfg, "head", tmp_path / "out.json", None)
    assert cmd[-1] == ids[0] and "tests/perf" not in cmd
    assert "gate" not in cmd  # no '-m gate': a selected benchmark need not be marked gate
    plain = _side_command(GateConfig(base="HEAD~1"), "head", tmp_path / "out.json", None)
    assert plain[-1] == "tests/perf" and "gate" in plain


def _decision(verdict: str) -> Decision:
    return Decision("cpu", 0.05, 5, 1.0, 1.1, 1.1, 0.9, 1.3, verdict)


class _Config:
    def __init__(self, root: Path, args: list[str]) -> None:
        self.rootpath = root
        self.args = args
        self.invocation_params = SimpleNamespace(args=tuple(args))
        self.option = SimpleNamespace(collectonly=False)
        self.pluginmanager = SimpleNamespace(get_plugin=lambda _name: None)
        self._options: dict[str, Any] = {
            verdicts.GATE: None,
            verdicts.FAIL_OVER: 5.0,
            verdicts.INJECT: 0.0,
            verdicts.JSON: None,
            "benchmark_compare": "0001",
            "--db-url": None,
        }

    def getoption(self, name: str, default: Any = None) -> Any:
        return self._options.get(name, default)


def test_the_saved_runs_commit_is_re_measured_on_the_benchmarks_that_did_not_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = tmp_path / "0001_saved.json"
    saved.write_text(json.dumps({"commit_info": {"id": "abc123"}}), encoding="utf-8")
    stage, other = "tests/perf/test_a.py::test_stage_x", "tests/perf/test_a.py::test_stage_y"
    config = _Config(tmp_path, ["tests/perf", "-k", "stage"])
    plugin = verdicts.PerfVerdicts(config)  # type: ignore[arg-type]
    results = {stage: "warn", other: "pass"}
    monkeypatch.setattr(
        verdicts,
        "compare_saved",
        lambda current, _saved, _t: [
            verdicts.SavedVerdict(n, _decision(results[n])) for n in current
        ],
    )
    seen: list[GateConfig] = []

    def fake_gate(cfg: GateConfig, _say: Any) -> Any:
        seen.append(cfg)
        raise gate_module.GateError("stop here")

    monkeypatch.setattr(verdicts, "run_gate", fake_gate)
    bench = [SimpleNamespace(fullname=n, extra_info={}) for n in (stage, other)]
    config._benchmarksession = SimpleNamespace(  # type: ignore[attr-defined]
        compared_mapping={str(saved): {}}, benchmarks=bench, storage=None
    )
    session = SimpleNamespace(testsfailed=0)
    plugin.compare_with_saved(session)  # type: ignore[arg-type]
    assert len(seen) == 1
    assert seen[0].base == "abc123"
    assert seen[0].selection == (stage,)  # not the gate subset, not the one that passed


def _item(nodeid: str, gate: bool) -> Any:
    return SimpleNamespace(nodeid=nodeid, get_closest_marker=lambda _m: object() if gate else None)


def test_perf_gate_measures_what_k_or_node_ids_selected() -> None:
    items = [_item("t.py::test_stage_a", False), _item("t.py::test_stage_b", True)]

    def session(keyword: str, args: list[str]) -> Any:
        option = SimpleNamespace(keyword=keyword, markexpr="")
        return SimpleNamespace(config=SimpleNamespace(option=option, args=args), items=items)

    assert verdicts.narrowed_selection(session("", ["tests/perf"])) == ()  # the gate subset
    assert verdicts.narrowed_selection(session("stage", ["tests/perf"])) == ("t.py::test_stage_b",)
    items.pop()
    assert verdicts.narrowed_selection(session("", ["t.py::test_stage_a"])) == (
        "t.py::test_stage_a",
    )

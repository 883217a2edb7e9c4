"""The saved-baseline comparison (``--benchmark-compare --perf-fail-over``): the rank
statistics it rests on, its verdicts on made-up rounds, and the pytest options' guard rails."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from itertools import combinations

import pytest

from xmlmigrate.bench.saved import compare_saved, decide, mann_whitney_null, shift_interval


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

"""The gate's decision rule on synthetic samples, and the signed-rank interval it rests on."""

from __future__ import annotations

import itertools
import json
import math
import random
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from xmlmigrate.bench.gate import (
    BenchmarkVerdict,
    BenchRun,
    Decision,
    GateConfig,
    GateResult,
    _Collector,
    combine,
    decide_logs,
)
from xmlmigrate.bench.stats import (
    signed_rank_critical,
    signed_rank_min_n,
    signed_rank_null,
    wilcoxon_interval,
)

ALPHA = 0.01 / 3  # the gate's per-benchmark alpha with three benchmarks


def decide(
    base: list[float], head: list[float], threshold: float, alpha: float, metric: str = "cpu"
) -> Decision:
    """The gate's verdict on one pair of seconds per block (what ``_Collector`` feeds it)."""
    logs = [math.log(h / b) for b, h in zip(base, head, strict=True)]
    return decide_logs(
        logs, threshold, alpha, metric, statistics.median(base), statistics.median(head)
    )


def test_the_null_distribution_matches_brute_force() -> None:
    for n in range(1, 9):
        counts = [0] * (n * (n + 1) // 2 + 1)
        for signs in itertools.product((0, 1), repeat=n):
            counts[sum(rank for rank, s in zip(range(1, n + 1), signs, strict=True) if s)] += 1
        assert signed_rank_null(n) == counts


def test_critical_values_match_the_published_table() -> None:
    # two-sided alpha 0.05: n=6 -> 0, n=10 -> 8, n=20 -> 52; alpha 0.01: n=10 -> 3, n=20 -> 37
    assert signed_rank_critical(6, 0.05) == 0
    assert signed_rank_critical(10, 0.05) == 8
    assert signed_rank_critical(20, 0.05) == 52
    assert signed_rank_critical(10, 0.01) == 3
    assert signed_rank_critical(20, 0.01) == 37
    assert signed_rank_critical(5, 0.05) is None  # 2/32 > 0.05: no interval exists


def test_the_interval_covers_the_true_shift_at_its_confidence() -> None:
    rng = random.Random(1)
    misses = 0
    trials = 400
    for _ in range(trials):
        values = [0.1 + rng.gauss(0, 0.02) for _ in range(12)]
        low, high = wilcoxon_interval(values, 0.05) or (math.inf, -math.inf)
        misses += not (low <= 0.1 <= high)
    assert misses / trials < 0.08  # nominal 5 %


def test_too_few_blocks_is_inconclusive_not_a_pass() -> None:
    d = decide([1.0] * 5, [1.0] * 5, 0.05, ALPHA)
    assert d.verdict == "warn" and d.low is None
    assert signed_rank_min_n(ALPHA) == 10


def _samples(rng: random.Random, n: int, slowdown: float, cv: float) -> tuple[list[float], ...]:
    base, head = [], []
    for _ in range(n):
        drift = rng.uniform(0.9, 1.2)  # the machine changes between blocks, both sides alike
        base.append(drift * rng.lognormvariate(0, cv))
        head.append(drift * (1 + slowdown) * rng.lognormvariate(0, cv))
    return base, head


@pytest.mark.parametrize(
    ("slowdown", "expected"),
    [(0.0, "pass"), (0.10, "fail"), (-0.10, "pass")],
)
def test_verdicts_on_synthetic_pairs(slowdown: float, expected: str) -> None:
    rng = random.Random(7)
    verdicts = [decide(*_samples(rng, 10, slowdown, 0.01), 0.05, ALPHA).verdict for _ in range(50)]
    assert verdicts.count(expected) >= 48, verdicts


def test_a_slowdown_below_the_threshold_never_fails() -> None:
    """+3 % against a 5 % gate: PASS once the interval is below 1.05, WARN (more blocks) while
    it is not, never FAIL."""
    rng = random.Random(5)
    verdicts = [decide(*_samples(rng, 10, 0.03, 0.01), 0.05, ALPHA).verdict for _ in range(200)]
    assert verdicts.count("fail") == 0
    assert verdicts.count("pass") > 0
    more = [decide(*_samples(rng, 16, 0.03, 0.01), 0.05, ALPHA).verdict for _ in range(200)]
    assert more.count("fail") == 0
    assert more.count("pass") > verdicts.count("pass")  # more blocks settle more cases


def test_noise_alone_never_fails_even_when_large() -> None:
    rng = random.Random(11)
    verdicts = [decide(*_samples(rng, 10, 0.0, 0.05), 0.05, ALPHA).verdict for _ in range(200)]
    assert "fail" not in verdicts
    assert "warn" in verdicts  # 5 % CV per side is too noisy to pass at 10 blocks every time


def test_a_big_ratio_with_an_interval_reaching_below_one_is_inconclusive() -> None:
    base = [1.0] * 10
    head = [1.3, 1.3, 1.3, 1.3, 1.3, 1.3, 0.8, 0.8, 0.8, 0.8]
    d = decide(base, head, 0.05, ALPHA)
    assert d.ratio > 1.05 and d.low is not None and d.low < 1
    assert d.verdict == "warn"


def test_combine() -> None:
    assert combine(["pass", "pass"]) == "pass"
    assert combine(["pass", "warn"]) == "warn"
    assert combine(["warn", "fail"]) == "fail"


def _run(cpu: float, wait: float = 0.0, rows: int = 10, speed: float = 0.003) -> BenchRun:
    rounds = [{"wall": cpu, "cpu": cpu, "wait": wait, "backends": 0, "yardstick": speed}] * 3
    return BenchRun(rounds=rounds, counters={"rows": rows}, counters_stable=True)


def test_disturbed_rounds_are_discarded_and_the_block_is_not_used() -> None:
    c = _Collector(GateConfig(base="x", max_wait=0.25))
    assert c.add_block({"base": {"b": _run(1.0)}, "head": {"b": _run(1.0, wait=0.5)}}) is False
    assert c.blocks() == 0 and c.discarded["b"] == 3
    assert c.set_aside == 1  # counted with the slow-machine blocks, as the summary says
    assert c.add_block({"base": {"b": _run(1.0)}, "head": {"b": _run(1.1)}}) is True
    assert c.blocks() == 1
    assert c.head["b"]["cpu"] == [1.1]
    assert c.logs["b"]["cpu"] == [pytest.approx(math.log(1.1))]


def test_counters_are_kept_per_side_for_exact_comparison() -> None:
    c = _Collector(GateConfig(base="x"))
    c.add_block({"base": {"b": _run(1.0, rows=10)}, "head": {"b": _run(1.0, rows=11)}})
    assert c.counters["b"]["base"] == {"rows": 10}
    assert c.counters["b"]["head"] == {"rows": 11}


def test_a_block_whose_sides_ran_at_different_machine_speeds_is_set_aside() -> None:
    c = _Collector(GateConfig(base="x", max_speed_gap=0.2))
    slow_head = {"base": {"b": _run(1.0)}, "head": {"b": _run(1.4, speed=0.0042)}}
    assert c.add_block(slow_head) is False
    assert c.set_aside == 1 and c.blocks() == 0
    close = {"base": {"b": _run(1.0)}, "head": {"b": _run(1.05, speed=0.0033)}}
    assert c.add_block(close) is True
    assert c.blocks() == 1


def test_each_side_gets_its_own_database_on_the_same_server() -> None:
    from xmlmigrate.bench.sides import side_url

    pg = "postgresql+psycopg://postgres:secret@127.0.0.1:5432/perf"
    assert side_url(pg, "base") == "postgresql+psycopg://postgres:secret@127.0.0.1:5432/perf_base"
    assert side_url("sqlite:////tmp/x/perf.db", "head") == "sqlite:////tmp/x/perf_head.db"
    assert side_url(None, "base") is None


def test_outside_a_git_repository_or_with_an_unknown_ref_the_gate_says_why(
    tmp_path: Path,
) -> None:
    import subprocess

    from xmlmigrate.bench.gate import GateError, run_gate

    with pytest.raises(GateError, match="rev-parse"):
        run_gate(GateConfig(base="HEAD", repo=tmp_path))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("x")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    with pytest.raises(GateError, match="no-such-ref"):
        run_gate(GateConfig(base="no-such-ref", repo=tmp_path))


def test_the_cli_refuses_a_nonsense_threshold() -> None:
    from xmlmigrate.cli import main

    assert main(["perf", "gate", "--base", "HEAD", "--threshold", "0"]) == 2


def _gate_result(verdict: str, bench: BenchmarkVerdict, set_aside: int = 0) -> GateResult:
    return GateResult(
        base_ref="BASE",
        base_commit="a" * 40,
        head_commit="b" * 40,
        threshold=0.05,
        alpha=0.005,
        blocks=10,
        verdict=verdict,
        benchmarks=[bench],
        seconds=12.0,
        set_aside=set_aside,
    )


def test_the_verdict_table_shows_both_passes_and_counter_changes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from xmlmigrate.cli import print_gate

    bench = BenchmarkVerdict(
        name="tests/perf/test_gate.py::test_gate_transform",
        decisions=[decide([1.0] * 10, [1.2] * 10, 0.05, 0.005)],
        verdict="warn",
        confirmed=[decide([1.0] * 10, [1.02] * 10, 0.05, 0.005)],
        counter_changes={"statements": (4, 8)},
    )
    print_gate(_gate_result("warn", bench, set_aside=2))
    out = capsys.readouterr().out
    assert "test_gate_transform" in out and "measured again" in out
    assert "1.200" in out and "FAIL" in out and "PASS" in out
    assert "counter changed test_gate_transform: statements 4 -> 8" in out
    assert "2 blocks set aside" in out
    assert "Gate WARN" in out


def test_report_of_a_gate_run(tmp_path: Path) -> None:
    import json

    from xmlmigrate.cli import main

    bench = BenchmarkVerdict(
        name="tests/perf/test_gate.py::test_gate_end_to_end",
        decisions=[
            decide([1.0] * 10, [1.2] * 10, 0.05, 0.005, metric="cpu"),
            decide([1.0] * 10, [1.01] * 10, 0.10, 0.005, metric="wall"),
        ],
        verdict="fail",
        counter_changes={"sql_statements": (40, 80)},
    )
    gate = tmp_path / "gate.json"
    gate.write_text(json.dumps(_gate_result("fail", bench).to_json()))
    assert main(["perf", "report", "--gate", str(gate), "--out", str(tmp_path / "r")]) == 0
    text = (tmp_path / "r" / "RESULTS.md").read_text()
    assert "## CI gate: FAIL (gate.json)" in text
    assert "| test_gate_end_to_end | cpu | +5% | 1.0000 | 1.2000 | 1.200 |" in text
    assert "| FAIL |" in text and "| PASS |" in text
    assert "counter `sql_statements` | exact | 40 | 80 |" in text
    not_gate = tmp_path / "other.json"
    not_gate.write_text("{}")
    assert main(["perf", "report", "--gate", str(not_gate), "--out", str(tmp_path / "r")]) == 2


def test_perf_gate_into_a_closed_pipe_still_writes_its_json(tmp_path: Path) -> None:
    """``perf gate --json F | head -1``: the JSON is written and the verdict is the exit
    status (before: the wide table's own console hit the closed pipe, exit 1, no JSON)."""
    out = tmp_path / "gate.json"
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from tests.unit.test_gate import BenchmarkVerdict, _gate_result, decide\n"
        "import xmlmigrate.bench.gate as g\n"
        "bench = BenchmarkVerdict(name='t::test_gate_transform', verdict='pass',\n"
        "    decisions=[decide([1.0] * 10, [1.0] * 10, 0.05, 0.005)])\n"
        "g.run_gate = lambda cfg, progress=None: _gate_result('pass', bench)\n"
        "from xmlmigrate.cli import main\n"
        f"raise SystemExit(main(['perf', 'gate', '--base', 'HEAD', '--json', {str(out)!r}]))\n"
    )
    proc = subprocess.run(
        f"{sys.executable} -c {shlex.quote(script)} | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["gate"]["verdict"] == "pass"

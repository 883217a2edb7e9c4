from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from xmlmigrate.bench import knobs
from xmlmigrate.bench.report import build_report
from xmlmigrate.cli import main


def _bench(path: Path) -> Path:
    def case(name: str, params: dict[str, object], median: float, rate: float) -> dict[str, object]:
        return {
            "group": "sweep: batch size" if "batch_size" in params else "sweep: flags",
            "name": name,
            "params": params,
            "stats": {"median": median, "stddev": median / 20, "rounds": 5},
            "extra_info": {
                "rec_per_min": rate,
                "stage_seconds": {"parse": median / 2, "map": median / 4},
            },
        }

    data = {
        "benchmarks": [
            case("test_batch_size[50]", {"batch_size": 50}, 1.2, 5000),
            case("test_batch_size[100]", {"batch_size": 100}, 1.0, 6000),
            case("test_batch_size[500]", {"batch_size": 500}, 0.8, 7500),
            case("test_feature_flags[all on]", {"flag": None}, 1.0, 6000),
            case("test_feature_flags[no pooling]", {"flag": "pooling"}, 1.25, 4800),
            # faster, but not with all flags on: not the best batch size
            case(
                "test_batch_size_and_flags[2000-no pooling]",
                {"batch_size": 2000, "flag": "pooling"},
                0.5,
                9000,
            ),
            # different things in one group: no gain between them
            {"group": "stages", "name": "test_stage_parse", "params": {},
             "stats": {"median": 0.01, "stddev": 0.001}, "extra_info": {}},
            {"group": "stages", "name": "test_stage_validate", "params": {},
             "stats": {"median": 0.0001, "stddev": 0.00001}, "extra_info": {}},
        ]
    }  # fmt: skip
    path.write_text(json.dumps(data))
    return path


def test_report_table_plots_and_best_batch_size(tmp_path: Path) -> None:
    bench = _bench(tmp_path / "bench.json")
    baseline = tmp_path / "base.json"
    baseline.write_text(
        json.dumps({"runs": 10, "median_rec_per_min": 6100.0, "cv": 0.031, "confidence": "high"})
    )
    table, images = build_report([bench], [baseline], tmp_path / "out")
    text = table.read_text()
    assert "| test_batch_size[500] | 1.000 | 0.800 | +25.0 % | 0.040 | 7,500 |" in text
    assert "| test_feature_flags[no pooling] | 1.000 | 1.250 | -20.0 % |" in text
    assert "Reference: `test_batch_size[100]`" in text
    assert "Best batch size: not named" in text  # a sweep run case after case
    assert "No reference: the cases of this group measure different things" in text
    assert "| test_stage_validate | 0.000 |" in text and "+9900" not in text
    assert "| base.json | 10 | 6,100 | 3.1 % | high |" in text
    assert {p.name for p in images} == {
        "throughput_vs_batch_size.png",
        "throughput_by_flags.png",
        "stage_split.png",
    }
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in images)


def _times(effects: dict[str, float], rounds: int = 8, seed: int = 3) -> dict[str, list[float]]:
    rng = random.Random(seed)
    base = [1.0 + rng.uniform(-0.02, 0.02) for _ in range(rounds)]
    out = {"default": base}
    for name, factor in effects.items():
        out[name] = [b * factor * (1 + rng.uniform(-0.01, 0.01)) for b in base]
    return out


def test_knob_effects_are_claims_with_intervals_and_the_best_size_needs_significance() -> None:
    times = _times({"no pooling": 1.30, "no dedup cache": 1.0, "batch size 500": 0.80,
                    "batch size 200": 0.95})  # fmt: skip
    found = {e.name: e for e in knobs.effects(times, knobs.VARIANTS)}
    assert found["no pooling"].verdict == "slower" and found["no pooling"].change < -0.2
    assert found["no dedup cache"].verdict == "no significant difference"
    assert found["batch size 500"].verdict == "faster"
    assert "best batch size: 500" in knobs.best_batch_size(times)
    close = _times({"batch size 500": 0.80, "batch size 1000": 0.805})
    assert knobs.best_batch_size(close).startswith(
        "no significant difference among batch sizes 500, 1000"
    )
    few = knobs.effects(_times({"workers 0": 2.0}, rounds=4), knobs.VARIANTS)
    assert few[0].verdict == "too few rounds"


def test_the_report_prints_the_knob_effects(tmp_path: Path) -> None:
    times = _times({"no pooling": 1.30, "batch size 500": 0.80})
    data = {"benchmarks": [{"group": "knob effects (interleaved)", "name": "test_knob_effects",
                            "params": {}, "stats": {"median": 9.0, "stddev": 0.1},
                            "extra_info": {"knob_effects": knobs.as_json(times, knobs.VARIANTS)}}]}  # fmt: skip
    bench = tmp_path / "k.json"
    bench.write_text(json.dumps(data))
    table, _ = build_report([bench], [], tmp_path / "out")
    text = table.read_text()
    assert "## Knob effects (k.json, 8 interleaved rounds, 95% intervals)" in text
    assert "| no pooling |" in text and "slower" in text
    assert "**Best batch size: 500" in text


def test_report_command(tmp_path: Path) -> None:
    bench = _bench(tmp_path / "bench.json")
    assert main(["perf", "report", str(bench), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "RESULTS.md").exists()
    assert (
        main(["perf", "report", str(tmp_path / "missing.json"), "--out", str(tmp_path / "r")]) == 2
    )


def test_a_gain_within_the_noise_is_marked_not_significant() -> None:
    from xmlmigrate.bench.report import Case, markdown

    def case(name: str, batch: int, median: float, sd: float, rounds: int | None) -> Case:
        return Case("sweep", name, {"batch_size": batch}, median, sd, None, {}, rounds=rounds)

    ref = case("b100", 100, 1.0, 0.6, 3)
    text = markdown(
        [
            ref,
            case("b500", 500, 0.30, 0.5, 3),  # "+229 %" from 3 noisy rounds
            case("b50", 50, 1.5, 0.01, 8),
            case("b2000", 2000, 0.9, 0.01, None),
        ],
        [],
    )
    assert "| b500 | 1.000 | 0.300 | +233.3 % (n.s., 3 rounds) |" in text
    assert "| b50 | 1.000 | 1.500 | -33.3 % (n.s., 8 rounds) |" in text  # ref's noise
    assert "| b2000 | 1.000 | 0.900 | +11.1 % (rounds unknown: no significance) |" in text
    quiet = markdown([case("b100", 100, 1.0, 0.01, 8), case("b50", 50, 1.5, 0.01, 8)], [])
    assert "| b50 | 1.000 | 1.500 | -33.3 % |" in quiet


def test_each_group_names_its_corpus_and_databases() -> None:
    from xmlmigrate.bench.report import Case, markdown

    cases = [
        Case("targets", "t[sqlite]", {}, 1.0, 0.1, None, {}, records=300, database="sqlite"),
        Case("targets", "t[pg]", {}, 1.0, 0.1, None, {}, records=300, database="postgresql"),
    ]
    text = markdown(cases, [])
    assert "300 documents; databases postgresql, sqlite;" in text
    assert "not recorded" not in text


def test_the_plots_say_what_they_show(tmp_path: Path, monkeypatch: object) -> None:
    """Every batch size measured is a readable tick; in the stage split the bar the label
    calls upper (workers) is drawn above the coordinator's."""
    import matplotlib

    matplotlib.use("Agg")
    from xmlmigrate.bench import report

    kept: dict[str, object] = {}

    def keep(plt: object, fig: object, path: Path) -> Path:
        kept[path.name] = fig
        return path

    monkeypatch.setattr(report, "_save", keep)  # type: ignore[attr-defined]
    report.plots(report.load_cases([_bench(tmp_path / "bench.json")]), tmp_path)
    sweep = kept["throughput_vs_batch_size.png"]
    [ax] = sweep.axes  # type: ignore[attr-defined]
    sweep.canvas.draw()  # type: ignore[attr-defined]
    labels = {t.get_text() for t in ax.get_xticklabels()}
    assert {"50", "100", "500", "2000"} <= labels
    split = kept["stage_split.png"]
    [ax] = split.axes  # type: ignore[attr-defined]
    assert "upper bar of a case: workers" in ax.get_xlabel()
    bars = {}
    for container in ax.containers:
        label = container.get_label()
        first = container.patches[0]  # the first case's bar
        box = first.get_window_extent()
        bars[label.split(":")[0]] = (box.y0 + box.y1) / 2
    assert bars["workers"] > bars["coordinator"]  # display y grows upwards


def test_batch_sizes_that_make_the_same_batches_are_not_compared() -> None:
    """At 50 records every size from 50 up is one batch: only 10 (5 batches) is a variant of
    the default (1 batch); at 1,000 records 1000 and 2000 are both one batch."""
    kept, skipped = knobs.for_records(knobs.VARIANTS, 50)
    sizes = sorted(k["batch_size"] for k in kept.values() if "batch_size" in k)
    assert sizes == [10]
    assert set(skipped) == {f"batch size {n}" for n in (50, 200, 500, 1000, 2000)}
    assert (
        "50 records make 1 batch of 50 documents, as with the default"
        in (skipped["batch size 500"])
    )
    assert "no pooling" in kept and "workers 0" in kept
    kept, skipped = knobs.for_records(knobs.VARIANTS, 1000)
    assert set(skipped) == {"batch size 2000"}
    assert "as with batch size 1000" in skipped["batch size 2000"]
    assert {"max batch bytes 4 MiB", "max batch bytes 256 MiB"} <= set(kept)  # sizes unknown


def test_sizes_whose_pages_the_byte_cap_cuts_alike_are_not_compared() -> None:
    """1,000 documents of 262 KB: 16 MiB pages hold 65 of them, so every batch size from 65 up
    runs the default's 16 pages; 4 MiB pages (17 documents) and 256 MiB ones (cut at 100) are
    variants, as are 10 and 50."""
    kept, skipped = knobs.for_records(knobs.VARIANTS, 1000, mean_bytes=262_000)
    assert set(skipped) == {f"batch size {n}" for n in (200, 500, 1000, 2000)}
    assert (
        "1000 records make 16 batches of ~65 documents (pages end at 16 MiB; documents of 262 KB)"
        in skipped["batch size 500"]
    )
    assert "as with the default" in skipped["batch size 2000"]
    assert {"batch size 10", "batch size 50", "max batch bytes 4 MiB"} <= set(kept)
    assert "max batch bytes 256 MiB" in kept
    # 100 of them: 50 makes two pages of 50, the default 65 + 35: not the same run
    kept, skipped = knobs.for_records(knobs.VARIANTS, 100, mean_bytes=262_000)
    assert "batch size 50" in kept and "batch size 200" in skipped
    # small documents: the count cuts every page, and the byte cap changes nothing
    kept, skipped = knobs.for_records(knobs.VARIANTS, 1000, mean_bytes=2_000)
    assert {"max batch bytes 4 MiB", "max batch bytes 256 MiB"} <= set(skipped)
    assert set(skipped) == {"batch size 2000", "max batch bytes 4 MiB", "max batch bytes 256 MiB"}


def test_report_reads_the_newest_autosaved_run_when_no_file_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_benchmark.utils import get_machine_id

    machine = tmp_path / ".benchmarks" / get_machine_id()  # pytest-benchmark's own layout
    machine.mkdir(parents=True)
    old = _bench(machine / "0001_aaa_20260101_000000.json")
    data = json.loads(old.read_text())
    data["benchmarks"] = data["benchmarks"][:1]
    (machine / "0002_bbb_20260102_000000.json").write_text(json.dumps(data))
    (tmp_path / ".benchmarks" / "Other-Machine").mkdir()
    _bench(tmp_path / ".benchmarks" / "Other-Machine" / "0009_ccc.json")
    monkeypatch.chdir(tmp_path)
    assert main(["perf", "report", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "0002_bbb_20260102_000000.json" in out
    text = (tmp_path / "r" / "RESULTS.md").read_text()
    assert "test_batch_size[50]" in text and "test_feature_flags" not in text  # 0002 alone
    # --latest beside a file given; --storage elsewhere
    given = _bench(tmp_path / "given.json")
    assert main(["perf", "report", str(given), "--latest", "--out", str(tmp_path / "r2")]) == 0
    assert "0002_bbb" in capsys.readouterr().out
    assert "test_feature_flags" in (tmp_path / "r2" / "RESULTS.md").read_text()
    empty = tmp_path / "nothing"
    rc = main(["perf", "report", "--storage", str(empty), "--out", str(tmp_path / "r3")])
    assert rc == 2
    assert "--benchmark-autosave" in capsys.readouterr().err


_TOY = """
def test_toy(benchmark):
    benchmark(lambda: None)
"""


def _outside_xdist() -> dict[str, str]:
    """This process's environment without what an xdist worker sets: the toy session is a
    plain one (under ``pytest -n auto`` it inherited PYTEST_XDIST_WORKER and took itself for
    a worker)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


@pytest.mark.parametrize(
    "save",
    [
        [],
        ["--benchmark-autosave"],
        ["--benchmark-json=out.json"],
        ["--benchmark-autosave", "--benchmark-storage=elsewhere"],
    ],
)
def test_a_benchmark_session_says_where_its_results_were_saved(
    tmp_path: Path, save: list[str]
) -> None:
    (tmp_path / "test_toy.py").write_text(_TOY)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
         "--benchmark-min-rounds=1", "--benchmark-max-time=0.001", "test_toy.py", *save],
        cwd=tmp_path, capture_output=True, text=True, check=False, env=_outside_xdist(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("perf results")]
    assert len(lines) == 1, proc.stdout
    if not save:
        assert "not saved" in lines[0] and "--benchmark-autosave" in lines[0]
        assert "--benchmark-json=FILE" in lines[0]
    elif "--benchmark-storage=elsewhere" in save:
        assert "elsewhere/" in lines[0] and "0001_" in lines[0]
        assert "xmlmigrate perf report --storage elsewhere:" in lines[0]
    elif "--benchmark-autosave" in save:
        assert ".benchmarks" in lines[0] and "0001_" in lines[0]
        assert "xmlmigrate perf report:" in lines[0]
    else:
        assert "out.json" in lines[0]

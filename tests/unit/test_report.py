from __future__ import annotations

import json
from pathlib import Path

from xmlmigrate.bench.report import best_batch_size, build_report, load_cases
from xmlmigrate.cli import main


def _bench(path: Path) -> Path:
    def case(name: str, params: dict[str, object], median: float, rate: float) -> dict[str, object]:
        return {
            "group": "sweep: batch size" if "batch_size" in params else "sweep: flags",
            "name": name,
            "params": params,
            "stats": {"median": median, "stddev": median / 20},
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
        ]
    }
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
    assert "**Best batch size: 500** (7,500 rec/min)." in text
    assert "| base.json | 10 | 6,100 | 3.1 % | high |" in text
    assert {p.name for p in images} == {
        "throughput_vs_batch_size.png",
        "throughput_by_flags.png",
        "stage_split.png",
    }
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in images)
    assert best_batch_size(load_cases([bench])) == (500, 7500.0)


def test_report_command(tmp_path: Path) -> None:
    bench = _bench(tmp_path / "bench.json")
    assert main(["perf", "report", str(bench), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "RESULTS.md").exists()
    assert (
        main(["perf", "report", str(tmp_path / "missing.json"), "--out", str(tmp_path / "r")]) == 2
    )

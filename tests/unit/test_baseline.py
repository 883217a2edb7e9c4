from __future__ import annotations

import json
from pathlib import Path

from xmlmigrate.bench.baseline import compare, confidence, summarize
from xmlmigrate.cli import main
from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.mock import default_generator, insert_documents


def test_statistics_and_confidence_words() -> None:
    s = summarize([1.0, 1.1, 0.9, 1.0], records=60)
    assert s["median_seconds"] == 1.0 and s["min_seconds"] == 0.9 and s["max_seconds"] == 1.1
    assert s["median_rec_per_min"] == 3600.0
    assert abs(s["cv"] - 0.0816) < 0.001 and s["confidence"] == "medium"
    assert (confidence(0.02), confidence(0.07), confidence(0.2)) == ("high", "medium", "low")


def test_compare_calls_only_significant_changes() -> None:
    base = {"seconds": [1.00, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.00, 1.02, 0.98]}
    same = {"seconds": [1.01, 0.99, 1.00, 1.02, 0.98, 1.00, 1.03, 0.97, 1.01, 0.99]}
    slow = {"seconds": [s * 1.10 for s in base["seconds"]]}
    fast = {"seconds": [s * 0.90 for s in base["seconds"]]}
    assert compare(base, same).verdict == "no detectable change"
    worse = compare(base, slow)
    assert worse.verdict == "slower" and worse.p_value < 0.05 and abs(worse.change - 0.10) < 1e-9
    assert compare(base, fast).verdict == "faster"
    noisy = {"seconds": [0.8, 1.3, 0.9, 1.2, 1.0]}
    assert compare(base, noisy).verdict == "no detectable change"


def test_three_runs_a_side_cannot_tell_even_a_fourfold_change() -> None:
    """3 runs a side cannot reach p < 0.05 (the exact test's smallest p is 0.1): saying "no
    detectable change" to +296 % would be a claim the data cannot make."""
    base = {"seconds": [1.00, 1.01, 0.99]}
    slower = {"seconds": [3.96, 3.97, 3.95]}
    verdict = compare(base, slower).verdict
    assert verdict.startswith("cannot tell with 3 and 3 runs") and "at least 4 runs" in verdict
    assert (
        compare({"seconds": [1.0, 1.01, 0.99, 1.02]}, {"seconds": [4.0, 4.1, 3.9, 4.2]}).verdict
        == "slower"
    )


def test_baseline_command_writes_runs_config_and_compares(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = make_engine(url)
    schema = build_schema(load_contract())
    schema.create(engine)
    insert_documents(engine, schema, default_generator(seed=3, size_profile="small").generate(30))
    engine.dispose()
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert (
        main(
            ["perf", "baseline", "--runs", "3", "--db", url, "--workers", "0", "--out", str(first)]
        )
        == 0
    )
    data = json.loads(first.read_text())
    assert data["runs"] == 3 and data["records"] == 30 and len(data["seconds"]) == 3
    assert data["config"]["workers"] == 0 and data["config"]["db_url"].startswith("sqlite")
    assert data["confidence"] in ("high", "medium", "low")
    assert (
        main(
            [
                "perf",
                "baseline",
                "--runs",
                "3",
                "--db",
                url,
                "--workers",
                "0",
                "--out",
                str(second),
                "--compare",
                str(first),
            ]
        )
        == 0
    )

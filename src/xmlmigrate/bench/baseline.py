"""N clean runs of the same migration, their statistics, and comparing two such baselines.

Each run starts from an emptied target (cascade from the root table, and the log), so no
run sees rows another left. The comparison uses the Mann-Whitney U test on the per-run
seconds (no normality assumed; ``bench.stats``) and calls a change only when it is
significant.
"""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from xmlmigrate.bench.stats import mann_whitney_min_n, mann_whitney_p, mann_whitney_smallest_p
from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import load_contracts
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.ledger import reset_target
from xmlmigrate.run.pipeline import describe_config, run_migration

ALPHA = 0.05


def confidence(cv: float) -> str:
    """How far a median of these runs can be trusted, from the coefficient of variation."""
    if cv < 0.05:
        return "high"
    if cv < 0.10:
        return "medium"
    return "low"


def summarize(seconds: list[float], records: int) -> dict[str, Any]:
    rates = [records / s * 60 for s in seconds]
    mean = statistics.fmean(seconds)
    stdev = statistics.stdev(seconds) if len(seconds) > 1 else 0.0
    cv = stdev / mean if mean else 0.0
    return {
        "runs": len(seconds),
        "records": records,
        "seconds": seconds,
        "rec_per_min": [round(r, 1) for r in rates],
        "median_seconds": statistics.median(seconds),
        "mean_seconds": mean,
        "stdev_seconds": stdev,
        "min_seconds": min(seconds),
        "max_seconds": max(seconds),
        "median_rec_per_min": round(statistics.median(rates), 1),
        "cv": round(cv, 4),
        "confidence": confidence(cv),
    }


def run_baseline(config: MigrationConfig, runs: int) -> dict[str, Any]:
    contract = load_contracts(config.contracts)
    schema = build_schema(contract)
    engine = make_engine(config.db_url)
    seconds: list[float] = []
    records = 0
    try:
        for _ in range(runs):
            reset_target(engine, schema)
            stats = run_migration(config, contract)
            if stats.records == 0:
                raise ValueError("nothing to migrate: load documents into app_xml first")
            records = stats.records
            seconds.append(stats.elapsed)
        reset_target(engine, schema)
    finally:
        engine.dispose()
    return {
        "created": datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "node": platform.node(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "config": describe_config(config),
        **summarize(seconds, records),
    }


@dataclass
class Comparison:
    old_median: float
    new_median: float
    p_value: float
    verdict: str  # "faster" | "slower" | "no detectable change" | "cannot tell: …"

    @property
    def change(self) -> float:
        """Relative change of the median time: +0.10 means 10 % slower."""
        return self.new_median / self.old_median - 1


def compare(old: dict[str, Any], new: dict[str, Any], alpha: float = ALPHA) -> Comparison:
    a, b = list(old["seconds"]), list(new["seconds"])
    p = mann_whitney_p(a, b)
    old_median, new_median = statistics.median(a), statistics.median(b)
    if mann_whitney_smallest_p(len(a), len(b)) >= alpha:  # no change could be detected
        verdict = (
            f"cannot tell with {len(a)} and {len(b)} runs (no difference can reach "
            f"p < {alpha:g}): need at least {mann_whitney_min_n(alpha)} runs a side"
        )
    elif p < alpha:
        verdict = "slower" if new_median > old_median else "faster"
    else:
        verdict = "no detectable change"
    return Comparison(old_median, new_median, p, verdict)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data.get("seconds"), list) or len(data["seconds"]) < 2:
        raise ValueError(f"{path}: not a baseline file with at least 2 runs")
    return data

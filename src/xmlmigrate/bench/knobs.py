"""What each tuning knob does, as a measured claim: "pooling saves X % ± Y".

One session, one corpus, one target. Each *round* runs the default configuration and every
variant (one knob changed: a batch size from 10 to 2,000, pages of 4 or 256 MiB, pooling /
pipelining / the duplicate-key cache off, 0 or 1 workers) once, in a shuffled order, each
from an emptied target. Per variant and round, the log of its time over the default's time in the same round
is one paired observation; over the rounds, their median is the effect and the Wilcoxon
signed-rank interval (exact) its confidence interval. A variant is *faster* or *slower* only
when its interval excludes no change; otherwise "no significant difference".

The best batch size is named only when it beats the next best significantly (their own paired
interval, from the same rounds); else the report says which sizes it cannot tell apart.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from xmlmigrate.bench.stats import paired_ratio, wilcoxon_interval
from xmlmigrate.config import DEFAULT_MAX_BATCH_BYTES

CONFIDENCE = 0.95
DEFAULT: dict[str, Any] = {"workers": 2, "batch_size": 100}
MIB = 2**20
VARIANTS: dict[str, dict[str, Any]] = {
    **{f"batch size {n}": {"batch_size": n} for n in (10, 50, 200, 500, 1000, 2000)},
    **{f"max batch bytes {n} MiB": {"max_batch_bytes": n * MIB} for n in (4, 256)},
    "no pooling": {"pooling": False},
    "no pipelined": {"pipelined": False},
    "no dedup cache": {"dedup_cache": False},
    "workers 0": {"workers": 0},
    "workers 1": {"workers": 1},
}


@dataclass
class Effect:
    name: str
    knobs: dict[str, Any]
    n: int
    ratio: float  # time of the variant / time of the default (lower is faster)
    low: float | None
    high: float | None

    @property
    def change(self) -> float:
        """Throughput change against the default: +0.10 = 10 % more records per minute."""
        return 1 / self.ratio - 1

    @property
    def verdict(self) -> str:
        if self.low is None or self.high is None:
            return "too few rounds"
        if self.high < 1:
            return "faster"
        if self.low > 1:
            return "slower"
        return "no significant difference"

    def claim(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.change:+.1%} (too few rounds for an interval)"
        lo, hi = 1 / self.high - 1, 1 / self.low - 1
        return f"{self.change:+.1%} ({lo:+.1%} … {hi:+.1%})"


def _per_page(knobs: Mapping[str, Any], mean_bytes: float) -> tuple[int, bool]:
    """Documents per page with these knobs, and whether the byte cap is what cuts it: a page
    ends at ``batch_size`` documents or once they reach ``max_batch_bytes``."""
    size = int(knobs.get("batch_size", DEFAULT["batch_size"]))
    cap = int(knobs.get("max_batch_bytes", DEFAULT_MAX_BATCH_BYTES))
    by_bytes = max(1, math.ceil(cap / mean_bytes)) if mean_bytes > 0 else size
    return min(size, by_bytes), by_bytes < size


def for_records(
    variants: Mapping[str, dict[str, Any]], records: int, mean_bytes: float = 0.0
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The variants worth measuring on ``records`` documents of ``mean_bytes`` each (0:
    unknown, pages cut by count only), and why the others are not: a batch size or page size
    that cuts the corpus into as many batches as the default's (or as a variant already kept)
    runs the very same batches — at 50 records every size from 50 up is one batch, and with
    16 MiB pages of ~260 KB documents every size from ~64 up makes the same pages; calling one
    of them "slower" would be noise taken for a claim."""
    default_page, _ = _per_page(DEFAULT, mean_bytes)
    seen = {min(default_page, records): "the default"}  # documents per page → who has them
    kept: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    paging = ("batch_size", "max_batch_bytes")
    by_size = sorted(variants.items(), key=lambda kv: _per_page(kv[1], mean_bytes)[0])
    for name, knobs in by_size:
        unknown = mean_bytes <= 0 and "batch_size" not in knobs  # a page size, sizes unknown
        if unknown or not any(k in knobs for k in paging):
            kept[name] = dict(knobs)
            continue
        page, capped = _per_page(knobs, mean_bytes)
        page = min(page, records)
        if page in seen:
            n = -(-records // page)
            cap = int(knobs.get("max_batch_bytes", DEFAULT_MAX_BATCH_BYTES)) // MIB
            of = (
                f"~{page} documents (pages end at {cap} MiB; documents of "
                f"{mean_bytes / 1e3:,.0f} KB)"
                if capped
                else f"{page} documents"
            )
            more = (
                "the byte cap cuts them alike; the page size variants measure it"
                if capped
                else "more --perf-records to compare them"
            )
            skipped[name] = (
                f"{records} records make {n} batch{'es' if n > 1 else ''} of {of}, as with "
                f"{seen[page]}: the same run, not compared ({more})"
            )
            continue
        seen[page] = name
        kept[name] = dict(knobs)
    return {n: kept[n] for n in variants if n in kept}, skipped


def effects(times: Mapping[str, list[float]], knobs: Mapping[str, dict[str, Any]]) -> list[Effect]:
    """Effects against ``times["default"]`` (seconds per round, same rounds in every list)."""
    base = times["default"]
    out = []
    for name, series in times.items():
        if name == "default":
            continue
        logs = [math.log(v / d) for v, d in zip(series, base, strict=True)]
        estimate = paired_ratio(logs, 1 - CONFIDENCE)
        out.append(
            Effect(
                name,
                dict(knobs.get(name, {})),
                len(logs),
                estimate.ratio,
                estimate.low,
                estimate.high,
            )
        )
    return out


def best_batch_size(times: Mapping[str, list[float]]) -> str:
    """The best batch size, if it beats the next best significantly; else which sizes the
    rounds cannot tell apart."""
    sizes = {
        name: series
        for name, series in times.items()
        if name.startswith("batch size ") or name == "default"
    }
    if len(sizes) < 2:
        return "no batch sizes measured"

    def size(name: str) -> int:
        return DEFAULT["batch_size"] if name == "default" else int(name.rsplit(" ", 1)[1])

    ranked = sorted(sizes, key=lambda n: statistics.median(sizes[n]))
    best, tied = ranked[0], [ranked[0]]
    for other in ranked[1:]:
        logs = [math.log(a / b) for a, b in zip(sizes[best], sizes[other], strict=True)]
        interval = wilcoxon_interval(logs, 1 - CONFIDENCE)
        if interval is None or interval[1] >= 0:
            tied.append(other)
    if len(tied) == 1:
        return f"best batch size: {size(best)} (significantly faster than every other size)"
    shown = ", ".join(str(size(n)) for n in sorted(tied, key=size))
    return f"no significant difference among batch sizes {shown} (fastest median: {size(best)})"


def measure(
    run: Callable[[dict[str, Any]], object],
    reset: Callable[[], None],
    rounds: int,
    variants: Mapping[str, dict[str, Any]] = VARIANTS,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Seconds of each configuration per round; the order is shuffled in every round."""
    configs = {"default": dict(DEFAULT), **{n: {**DEFAULT, **k} for n, k in variants.items()}}
    times: dict[str, list[float]] = {name: [] for name in configs}
    order = list(configs)
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            reset()
            started = time.perf_counter()
            run(configs[name])
            times[name].append(time.perf_counter() - started)
    return times


def as_json(
    times: Mapping[str, list[float]],
    variants: Mapping[str, dict[str, Any]],
    not_compared: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "not_compared": dict(not_compared or {}),
        "confidence": CONFIDENCE,
        "default": DEFAULT,
        "times": {k: list(v) for k, v in times.items()},
        "effects": [
            asdict(e) | {"verdict": e.verdict, "claim": e.claim()} for e in effects(times, variants)
        ],
        "best_batch_size": best_batch_size(times),
    }

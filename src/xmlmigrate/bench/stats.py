"""The statistics of every perf comparison.

* **Wilcoxon signed rank** (paired observations, e.g. per-block log ratios head/base): the
  exact null distribution of W+, its critical values, and the confidence interval for the
  pseudo-median from the Walsh averages — the A/B gate (:mod:`xmlmigrate.bench.gate`) and the
  knob effects (:mod:`xmlmigrate.bench.knobs`).
* **Mann–Whitney** (two independent samples): the exact null distribution of U, the
  Hodges–Lehmann shift estimate with its confidence interval — the comparison with a saved
  run (:mod:`xmlmigrate.bench.saved`) — and the two-sided p-value as scipy's ``mannwhitneyu``
  computes it by default — two baselines (:mod:`xmlmigrate.bench.baseline`).
* **Welch's t** on two summaries (location, standard deviation, size): whether a sweep case's
  time differs from its reference's (:mod:`xmlmigrate.bench.report`); its t quantile comes
  from scipy, everything else here is plain Python.
* **Ratios**: an estimate and interval on a log scale, given back as a ratio with its
  interval (``exp``), which is what the verdicts read.

A null distribution is a list of counts: ``counts[v]`` arrangements give the statistic the
value ``v``; ``sum(counts)`` arrangements are equally likely under the null.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# -- null distributions and critical values ------------------------------------------------------


def signed_rank_null(n: int) -> list[int]:
    """How many of the 2**n sign assignments give each value of W+ (0 .. n(n+1)/2)."""
    counts = [0] * (n * (n + 1) // 2 + 1)
    counts[0] = 1
    top = 0
    for rank in range(1, n + 1):
        top += rank
        for w in range(top, rank - 1, -1):
            counts[w] += counts[w - rank]
    return counts


def mann_whitney_null(n: int, m: int) -> list[int]:
    """How many of the C(n+m, n) arrangements give each value of U (0 .. n*m)."""
    # counts[i][j] for i items of one sample and j of the other, built by the usual recursion
    previous = [[1] for _ in range(m + 1)]  # i = 0: U = 0 in one way for every j
    for i in range(1, n + 1):
        current: list[list[int]] = [[1]]  # j = 0: U = 0
        for j in range(1, m + 1):
            a = previous[j]  # the largest value belongs to the first sample: adds j to U
            b = current[j - 1]  # or to the second: adds nothing
            row = [0] * (i * j + 1)
            for u, c in enumerate(b):
                row[u] += c
            for u, c in enumerate(a):
                row[u + j] += c
            current.append(row)
        previous = current
    return previous[m]


def lower_critical(counts: Sequence[int], alpha: float) -> int | None:
    """The largest t with P(statistic <= t) <= alpha/2 under the null whose value counts are
    ``counts``; None if even t = 0 is above (too few observations for that confidence)."""
    total = sum(counts)
    cumulative = 0
    best = None
    for t, c in enumerate(counts):
        cumulative += c
        if cumulative / total <= alpha / 2:
            best = t
        else:
            break
    return best


def signed_rank_critical(n: int, alpha: float) -> int | None:
    """The largest t with P(W+ <= t) <= alpha/2 under the null; None if even t = 0 is above."""
    return lower_critical(signed_rank_null(n), alpha)


def signed_rank_min_n(alpha: float) -> int:
    """The fewest pairs for which the signed-rank interval exists at this alpha (all signs
    alike, probability 2 / 2**n, must be within alpha)."""
    n = 1
    while 2 / 2**n > alpha:
        n += 1
    return n


def mann_whitney_smallest_p(n: int, m: int) -> float:
    """The smallest two-sided p-value the exact Mann–Whitney test can give with samples of
    ``n`` and ``m`` (every value of one sample below every value of the other)."""
    return min(1.0, 2 / math.comb(n + m, n))


def mann_whitney_min_n(alpha: float) -> int:
    """The fewest values a sample (both alike) with which the test can reach p < ``alpha``."""
    n = 2
    while mann_whitney_smallest_p(n, n) >= alpha:
        n += 1
    return n


# -- one sample of paired differences: Wilcoxon signed rank -------------------------------------


def walsh_averages(values: Sequence[float]) -> list[float]:
    """Every (x_i + x_j) / 2 with i <= j, sorted."""
    n = len(values)
    return sorted((values[i] + values[j]) / 2 for i in range(n) for j in range(i, n))


def wilcoxon_interval(values: Sequence[float], alpha: float) -> tuple[float, float] | None:
    """Confidence interval (1 - alpha) for the pseudo-median of ``values`` from the exact
    signed-rank distribution; None when there are too few values to reach that confidence."""
    n = len(values)
    if n == 0:
        return None
    t = signed_rank_critical(n, alpha)
    if t is None:
        return None
    walsh = walsh_averages(values)
    return walsh[t], walsh[len(walsh) - 1 - t]


# -- two independent samples: Mann–Whitney, Hodges–Lehmann --------------------------------------


def hodges_lehmann(base: Sequence[float], head: Sequence[float]) -> float:
    """The Hodges–Lehmann shift head − base: the median of all pairwise differences."""
    return statistics.median(h - b for b in base for h in head)


def shift_interval(
    base: Sequence[float], head: Sequence[float], alpha: float
) -> tuple[float, float | None, float | None]:
    """Hodges–Lehmann shift head − base and its (1 − alpha) Mann–Whitney interval (None when
    the samples are too small to reach that confidence)."""
    diffs = sorted(h - b for b in base for h in head)
    estimate = statistics.median(diffs)
    k = lower_critical(mann_whitney_null(len(base), len(head)), alpha)
    if k is None:
        return estimate, None, None
    return estimate, diffs[k], diffs[len(diffs) - 1 - k]


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Ranks 1..n (ties get the average of their ranks) and the size of each group of ties."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> float:
    """U of ``x``: the pairs (x_i, y_j) with x_i > y_j, a tie counting one half."""
    ranks, _ = _ranks([*x, *y])
    n = len(x)
    return sum(ranks[:n]) - n * (n + 1) / 2


def mann_whitney_p(x: Sequence[float], y: Sequence[float]) -> float:
    """Two-sided p-value of the Mann–Whitney test, the way scipy's ``mannwhitneyu`` computes it
    by default: the exact distribution when a sample has at most 8 values and no value is
    tied; else the normal approximation with the tie correction and a continuity correction
    of 1/2."""
    n1, n2 = len(x), len(y)
    if not n1 or not n2:
        raise ValueError("the Mann-Whitney test needs values on both sides")
    ranks, ties = _ranks([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    if (n1 <= 8 or n2 <= 8) and all(t == 1 for t in ties):
        counts = mann_whitney_null(n1, n2)
        upper = sum(counts[round(u) :]) / sum(counts)  # P(U >= u)
        return min(1.0, 2 * upper)
    n = n1 + n2
    tie_term = sum(t**3 - t for t in ties)
    spread = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    if spread == 0:  # every value alike
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / spread
    return min(1.0, max(0.0, math.erfc(z / math.sqrt(2))))  # 2 * P(Z > z)


# -- two summaries: Welch's t ----------------------------------------------------------------------


def welch_differs(
    a: float, sd_a: float, n_a: int, b: float, sd_b: float, n_b: int, alpha: float = 0.05
) -> bool:
    """Whether the locations ``a`` and ``b`` differ at two-sided ``alpha`` by Welch's t-test,
    from each sample's standard deviation and size (at least 2 a side). With no spread at all
    any difference counts. The t quantile is scipy's (the bench extra)."""
    va, vb = sd_a**2 / n_a, sd_b**2 / n_b
    se = (va + vb) ** 0.5
    if se == 0:
        return a != b
    df = (va + vb) ** 2 / ((va**2 / (n_a - 1) if va else 0) + (vb**2 / (n_b - 1) if vb else 0))
    from scipy import stats  # xmlmigrate[bench]

    return bool(abs(a - b) > float(stats.t.ppf(1 - alpha / 2, df)) * se)


# -- ratios from log-scale estimates --------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A ratio (e.g. head / base) with its confidence interval; no interval (None) when the
    observations are too few to reach the confidence asked for."""

    ratio: float
    low: float | None
    high: float | None


def paired_ratio(logs: Sequence[float], alpha: float) -> Ratio:
    """From paired log ratios: exp of their median, and exp of their (1 − alpha) signed-rank
    interval."""
    ratio = math.exp(statistics.median(logs)) if logs else math.nan
    interval = wilcoxon_interval(logs, alpha)
    if interval is None:
        return Ratio(ratio, None, None)
    return Ratio(ratio, math.exp(interval[0]), math.exp(interval[1]))


def shift_ratio(base_logs: Sequence[float], head_logs: Sequence[float], alpha: float) -> Ratio:
    """From two samples of logs: exp of the Hodges–Lehmann shift head − base, and exp of its
    (1 − alpha) Mann–Whitney interval."""
    shift, low, high = shift_interval(base_logs, head_logs, alpha)
    if low is None or high is None:
        return Ratio(math.exp(shift), None, None)
    return Ratio(math.exp(shift), math.exp(low), math.exp(high))

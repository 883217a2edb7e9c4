"""``xmlmigrate.bench.stats`` against scipy where scipy has the statistic (the Mann–Whitney
and Wilcoxon tests), and against brute force where it has not (Hodges–Lehmann, the
intervals, which must invert scipy's tests): small samples, ties, and both of scipy's
Mann–Whitney methods."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable

import pytest
from scipy.stats import mannwhitneyu, ttest_ind_from_stats, wilcoxon

from xmlmigrate.bench.stats import (
    hodges_lehmann,
    lower_critical,
    mann_whitney_min_n,
    mann_whitney_null,
    mann_whitney_p,
    mann_whitney_smallest_p,
    mann_whitney_u,
    paired_ratio,
    shift_interval,
    shift_ratio,
    signed_rank_critical,
    signed_rank_min_n,
    signed_rank_null,
    walsh_averages,
    welch_differs,
    wilcoxon_interval,
)

SIZES = [(1, 1), (1, 4), (2, 2), (3, 5), (4, 4), (5, 3), (6, 8), (8, 8), (7, 12), (9, 9), (12, 15)]


def _continuous(rng: random.Random) -> Callable[[], float]:
    return lambda: rng.gauss(0, 1)


def _tied(rng: random.Random) -> Callable[[], float]:
    return lambda: float(rng.randint(0, 4))  # five values: many ties at every size


def _samples(
    seed: int, draw: Callable[[random.Random], Callable[[], float]]
) -> list[tuple[list[float], list[float]]]:
    rng = random.Random(seed)
    value = draw(rng)
    out = []
    for n, m in SIZES:
        for shift in (0.0, 0.7, -1.5):
            out.append(([value() for _ in range(n)], [value() + shift for _ in range(m)]))
    return out


def _kept_between(
    points: list[float], at: int, to: int, p: Callable[[float], float], alpha: float
) -> None:
    """The interval points[at]..points[to] is the set the test keeps: just inside both ends
    p > alpha, just outside p <= alpha."""
    assert p((points[at] + points[at + 1]) / 2) > alpha  # just inside
    assert p((points[to - 1] + points[to]) / 2) > alpha
    below = (points[at - 1] + points[at]) / 2 if at else points[0] - 1
    above = (points[to] + points[to + 1]) / 2 if to + 1 < len(points) else points[-1] + 1
    assert p(below) <= alpha  # just outside
    assert p(above) <= alpha


# -- Mann–Whitney -------------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "y"), _samples(1, _continuous) + _samples(2, _tied))
def test_mann_whitney_u_and_p_are_scipys(x: list[float], y: list[float]) -> None:
    """Exact where a sample has at most 8 values and nothing is tied, the normal approximation
    (tie and continuity corrections) otherwise: scipy's default method either way."""
    expected = mannwhitneyu(x, y, alternative="two-sided")
    assert mann_whitney_u(x, y) == pytest.approx(float(expected.statistic), abs=1e-9)
    assert mann_whitney_p(x, y) == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-12)


def test_mann_whitney_p_with_every_value_alike_is_one() -> None:
    x, y = [1.0] * 10, [1.0] * 12
    assert float(mannwhitneyu(x, y).pvalue) == 1.0
    assert mann_whitney_p(x, y) == 1.0
    with pytest.raises(ValueError, match="both sides"):
        mann_whitney_p([], [1.0])


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 3), (4, 4), (3, 7), (6, 5), (8, 2)])
def test_mann_whitney_null_gives_scipys_exact_p_values(n: int, m: int) -> None:
    counts = mann_whitney_null(n, m)
    assert sum(counts) == math.comb(n + m, n)
    assert counts == counts[::-1]  # symmetric about n*m/2
    rng = random.Random(n * 10 + m)
    for _ in range(20):
        x = [rng.random() for _ in range(n)]
        y = [rng.random() for _ in range(m)]
        u = round(max(mann_whitney_u(x, y), n * m - mann_whitney_u(x, y)))
        p = min(1.0, 2 * sum(counts[u:]) / sum(counts))
        assert p == pytest.approx(float(mannwhitneyu(x, y, method="exact").pvalue), rel=1e-12)


@pytest.mark.parametrize(("n", "m"), [(2, 2), (3, 3), (2, 5), (4, 4), (5, 6)])
def test_the_smallest_p_is_that_of_two_samples_apart(n: int, m: int) -> None:
    apart = mannwhitneyu(list(range(n)), list(range(100, 100 + m)), method="exact")
    assert mann_whitney_smallest_p(n, m) == pytest.approx(float(apart.pvalue), rel=1e-12)


def test_the_fewest_values_a_side_that_can_reach_alpha() -> None:
    for alpha in (0.2, 0.05, 0.01, 0.001):
        n = mann_whitney_min_n(alpha)
        assert mann_whitney_smallest_p(n, n) < alpha <= mann_whitney_smallest_p(n - 1, n - 1)
    assert mann_whitney_min_n(0.05) == 4  # 3 a side: p >= 0.1 however far apart


# -- Hodges–Lehmann and its Mann–Whitney interval --------------------------------------------------


@pytest.mark.parametrize(("base", "head"), _samples(3, _continuous) + _samples(4, _tied))
def test_the_hodges_lehmann_shift_is_the_median_of_all_differences(
    base: list[float], head: list[float]
) -> None:
    diffs = sorted(h - b for b, h in itertools.product(base, head))
    assert hodges_lehmann(base, head) == statistics.median(diffs)
    estimate, low, high = shift_interval(base, head, 0.05)
    assert estimate == statistics.median(diffs)
    k = lower_critical(mann_whitney_null(len(base), len(head)), 0.05)
    if k is None:
        assert (low, high) == (None, None)
    else:
        assert (low, high) == (diffs[k], diffs[-1 - k])


@pytest.mark.parametrize("alpha", [0.05, 0.01])
@pytest.mark.parametrize(("n", "m"), [(5, 6), (6, 6), (7, 8), (8, 4)])
def test_the_shift_interval_is_the_set_of_shifts_scipys_exact_test_keeps(
    n: int, m: int, alpha: float
) -> None:
    """Inside the interval a shift is not rejected at ``alpha`` (head − shift against base);
    just outside it is."""
    rng = random.Random(n * m)
    base = [rng.gauss(0, 1) for _ in range(n)]
    head = [rng.gauss(0.5, 1) for _ in range(m)]
    _, low, high = shift_interval(base, head, alpha)
    assert low is not None and high is not None
    diffs = sorted(h - b for b, h in itertools.product(base, head))
    at, to = diffs.index(low), diffs.index(high)

    def p(shift: float) -> float:
        return float(mannwhitneyu([h - shift for h in head], base, method="exact").pvalue)

    _kept_between(diffs, at, to, p, alpha)


def test_too_small_samples_have_no_shift_interval() -> None:
    # 3 and 3: the smallest two-sided p is 0.1, no 99 % interval exists
    assert shift_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], 0.01)[1:] == (None, None)
    assert shift_interval([1.0, 2.0, 3.0, 4.0], [4.0, 5.0, 6.0, 7.0], 0.1)[1] is not None


# -- Wilcoxon signed rank --------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 13))
def test_the_signed_rank_null_gives_scipys_exact_p_values(n: int) -> None:
    counts = signed_rank_null(n)
    assert sum(counts) == 2**n and counts == counts[::-1]
    rng = random.Random(n)
    for _ in range(15):
        values = [rng.gauss(0.3, 1) for _ in range(n)]
        ranked = sorted(range(n), key=lambda i: abs(values[i]))
        w_plus = sum(rank + 1 for rank, i in enumerate(ranked) if values[i] > 0)
        t = min(w_plus, n * (n + 1) // 2 - w_plus)
        expected = wilcoxon(values, method="exact")
        assert float(expected.statistic) == t
        p = min(1.0, 2 * sum(counts[: t + 1]) / 2**n)
        assert p == pytest.approx(float(expected.pvalue), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.05, 0.01])
@pytest.mark.parametrize("n", [8, 9, 10, 13, 16])
def test_the_signed_rank_interval_is_the_set_of_centres_scipys_exact_test_keeps(
    n: int, alpha: float
) -> None:
    rng = random.Random(100 + n)
    values = [rng.gauss(0.2, 1) for _ in range(n)]
    interval = wilcoxon_interval(values, alpha)
    assert interval is not None
    walsh = walsh_averages(values)
    at, to = walsh.index(interval[0]), walsh.index(interval[1])

    def p(centre: float) -> float:
        return float(wilcoxon([v - centre for v in values], method="exact").pvalue)

    _kept_between(walsh, at, to, p, alpha)


def test_walsh_averages_and_intervals_with_ties() -> None:
    values = [0.1, 0.1, 0.2, 0.2, 0.2, -0.1, 0.1, 0.3, 0.2, 0.1]
    walsh = sorted((a + b) / 2 for a, b in itertools.combinations_with_replacement(values, 2))
    assert walsh_averages(values) == walsh
    t = signed_rank_critical(len(values), 0.05)
    assert t is not None
    assert wilcoxon_interval(values, 0.05) == (walsh[t], walsh[-1 - t])


def test_the_fewest_pairs_for_a_signed_rank_interval() -> None:
    for alpha in (0.05, 0.01, 0.01 / 3):
        n = signed_rank_min_n(alpha)
        assert wilcoxon_interval([1.0 + i for i in range(n)], alpha) is not None
        assert wilcoxon_interval([1.0 + i for i in range(n - 1)], alpha) is None
        # all n of one sign: the smallest p-value scipy's exact test can give, 2 / 2**n
        assert float(wilcoxon([1.0 + i for i in range(n)], method="exact").pvalue) <= alpha
    assert wilcoxon_interval([], 0.05) is None


# -- Welch's t ---------------------------------------------------------------------------------------


def test_welch_differs_exactly_where_scipys_welch_test_rejects() -> None:
    rng = random.Random(12)
    seen = set()
    for _ in range(300):
        n_a, n_b = rng.randint(2, 12), rng.randint(2, 12)
        a, b = 1.0, 1.0 + rng.uniform(-0.2, 0.2)
        sd_a, sd_b = rng.uniform(0.0, 0.15), rng.choice([0.0, rng.uniform(0.0, 0.15)])
        if sd_a == sd_b == 0:
            continue
        p = float(ttest_ind_from_stats(a, sd_a, n_a, b, sd_b, n_b, equal_var=False).pvalue)
        if abs(p - 0.05) < 1e-9:
            continue  # on the edge: rounding decides
        assert welch_differs(a, sd_a, n_a, b, sd_b, n_b) == (p < 0.05), (a, sd_a, n_a, b, sd_b)
        assert welch_differs(a, sd_a, n_a, b, sd_b, n_b, 0.01) == (p < 0.01)
        seen.add(p < 0.05)
    assert seen == {True, False}
    assert welch_differs(1.0, 0.0, 3, 1.0, 0.0, 3) is False  # no spread: differ iff unequal
    assert welch_differs(1.0, 0.0, 3, 1.1, 0.0, 3) is True


# -- ratios --------------------------------------------------------------------------------------


def test_ratios_are_the_log_estimates_and_intervals_exponentiated() -> None:
    rng = random.Random(9)
    logs = [rng.gauss(0.05, 0.02) for _ in range(12)]
    r = paired_ratio(logs, 0.05)
    interval = wilcoxon_interval(logs, 0.05)
    assert interval is not None
    assert r.ratio == math.exp(statistics.median(logs))
    assert (r.low, r.high) == (math.exp(interval[0]), math.exp(interval[1]))
    assert r.low is not None and r.high is not None and r.low < r.ratio < r.high
    few = paired_ratio(logs[:3], 0.05)
    assert (
        few.low is None and few.high is None and few.ratio == math.exp(statistics.median(logs[:3]))
    )
    assert math.isnan(paired_ratio([], 0.05).ratio)

    base = [rng.gauss(0, 0.01) for _ in range(10)]
    head = [rng.gauss(0.1, 0.01) for _ in range(10)]
    s = shift_ratio(base, head, 0.01)
    estimate, low, high = shift_interval(base, head, 0.01)
    assert low is not None and high is not None
    assert (s.ratio, s.low, s.high) == (math.exp(estimate), math.exp(low), math.exp(high))
    assert shift_ratio(base[:2], head[:2], 0.01).low is None

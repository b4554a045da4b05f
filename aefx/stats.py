"""Small-sample statistics for the comparison: t intervals and paired differences."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BETTER, WORSE, UNCLEAR = "better", "worse", "no clear difference"


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` scores with its sample standard deviation and a t confidence interval."""

    mean: float
    std: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def finite_bounds(self) -> tuple[float | None, float | None]:
        """(low, high) for JSON: None where the interval is unbounded (a single value)."""
        return (
            self.low if math.isfinite(self.low) else None,
            self.high if math.isfinite(self.high) else None,
        )


def t_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Student-t interval for the mean; with one value the interval is unbounded."""
    return _t_interval(values, confidence, 0.0)


def cv_interval(values: Sequence[float], folds: int, confidence: float = 0.95) -> Interval:
    """Interval for the mean of k-fold CV scores repeated over seeds (seeds x folds values).

    Any two folds' training sets share (k-2)/(k-1) of their rows, so their scores move together
    and the plain t interval (variance s**2 / n) is too narrow: on data where two feature sets
    are equally good it calls one of them better far more often than 5% of the time. Nadeau and
    Bengio's corrected resampled t (2003) widens the variance to s**2 (1/n + 1/(k-1)), where
    1/(k-1) is the ratio of scored rows to fitted rows of one fold, on n - 1 degrees of freedom."""
    if folds < 2:
        raise ValueError(f"k-fold CV needs at least 2 folds, not {folds}")
    return _t_interval(values, confidence, 1 / (folds - 1))


def _t_interval(values: Sequence[float], confidence: float, extra: float) -> Interval:
    """t interval whose variance of the mean is s**2 (1/n + extra)."""
    from scipy.stats import t

    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = math.fsum(values) / n
    if n == 1:
        return Interval(mean, 0.0, -math.inf, math.inf, 1)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    # s / sqrt(n) * sqrt(1 + n extra): with extra 0, exactly the textbook s / sqrt(n).
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n) * math.sqrt(1 + n * extra)
    return Interval(mean, std, mean - half, mean + half, n)


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Interval:
    """Interval of the mean of ``a[i] - b[i]``: both measured on the same seed."""
    return t_interval(_paired(a, b), confidence)


def paired_difference_over_folds(
    a: Sequence[float], b: Sequence[float], folds: int, confidence: float = 0.95
) -> Interval:
    """Interval of the mean of ``a[i] - b[i]``, both scored on the same seed and fold of k-fold
    CV: corrected for the folds' overlapping training sets (``cv_interval``)."""
    return cv_interval(_paired(a, b), folds, confidence)


def _paired(a: Sequence[float], b: Sequence[float]) -> list[float]:
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    return [x - y for x, y in zip(a, b, strict=True)]


def paired_difference_on_rows(
    y: np.ndarray,
    learned: np.ndarray,
    baseline: np.ndarray,
    metric: str,
    confidence: float = 0.95,
    resamples: int = 2000,
) -> Interval:
    """Mean over seeds of ``metric(learned) - metric(baseline)`` on one test split, with an
    interval that counts both kinds of chance: the seeds (training) and the test rows.

    ``learned`` and ``baseline`` hold one row of test predictions per seed. Over seeds alone a
    difference of one test row, the same for every seed, has zero spread and would be called;
    it is as much a fact about which rows the split drew. So the variance of the mean difference
    is the seeds' (``std**2 / n``) plus that of a paired bootstrap over test rows (the same
    resampled rows for every seed and both feature sets; fixed draws, so a rerun gives the same
    interval), with Welch-Satterthwaite degrees of freedom; never narrower than the seeds' own
    t interval. ``std`` stays the spread over seeds."""
    import numpy as np
    from scipy.stats import t

    learned, baseline = np.atleast_2d(learned), np.atleast_2d(baseline)
    if learned.shape != baseline.shape or learned.shape[1] != len(y):
        shapes = f"{learned.shape} and {baseline.shape}"
        raise ValueError(f"predictions {shapes} do not fit {len(y)} test rows")
    seeds, rows = learned.shape
    ones = np.ones((1, rows))
    per_seed = (
        weighted_scores(metric, ones, y, learned)[0] - weighted_scores(metric, ones, y, baseline)[0]
    )
    mean = float(per_seed.mean())
    if seeds == 1:
        return Interval(mean, 0.0, -math.inf, math.inf, 1)
    std = float(per_seed.std(ddof=1))
    rng = np.random.default_rng(0)
    boot = []
    for start in range(0, resamples, 250):
        # Each resample draws `rows` rows with replacement; a row's weight is how often it came.
        size = min(250, resamples - start)
        drawn = rng.integers(0, rows, (size, rows)) + rows * np.arange(size)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=size * rows).reshape(size, rows)
        diff = weighted_scores(metric, weights, y, learned) - weighted_scores(
            metric, weights, y, baseline
        )
        boot.append(diff.mean(axis=1))
    var_seeds, var_rows = std**2 / seeds, float(np.concatenate(boot).var(ddof=1))
    total = var_seeds + var_rows
    dof = total**2 / (var_seeds**2 / (seeds - 1)) if var_seeds > 0 else math.inf
    level = 0.5 + confidence / 2
    # Welch-Satterthwaite raises the degrees of freedom as the rows' part grows, which with two
    # or three seeds can narrow the interval below the seeds' own: never go below that.
    half = max(
        float(t.ppf(level, dof)) * math.sqrt(total),
        float(t.ppf(level, seeds - 1)) * math.sqrt(var_seeds),
    )
    return Interval(mean, std, mean - half, mean + half, seeds)


def weighted_scores(
    metric: str, weights: np.ndarray, y: np.ndarray, predicted: np.ndarray
) -> np.ndarray:
    """``metric`` of each seed's predictions under each row weighting: (weightings, seeds).

    Macro F1 averages over the classes present (in truth or prediction) under each weighting,
    as scikit-learn's ``f1_score`` does over the labels it sees."""
    import numpy as np

    weights = weights.astype(float)
    if metric == "accuracy":
        return weights @ (predicted == y).T / weights.sum(axis=1, keepdims=True)
    if metric != "f1_macro":
        raise ValueError(f"no row-level form for metric {metric!r}")
    classes = np.union1d(y, predicted)
    seeds, rows = predicted.shape
    truth = (y[:, None] == classes).astype(float)  # rows x classes
    guess = (predicted.T[:, :, None] == classes).astype(float)  # rows x seeds x classes

    def total(per_row: np.ndarray) -> np.ndarray:  # weightings x seeds x classes, by BLAS
        return (weights @ per_row.reshape(rows, -1)).reshape(len(weights), seeds, -1)

    hits, guessed = total(guess * truth[:, None, :]), total(guess)
    actual = (weights @ truth)[:, None, :]
    denominator = guessed + actual
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * hits / denominator, np.nan)
    return np.nanmean(f1, axis=2)


def verdict(diff: Interval, tolerance: float = 1e-12) -> str:
    """ "better" if the whole interval is above zero, "worse" if below, else no clear difference.

    Identical scores (a zero-width interval at zero) are no difference; a constant non-zero
    difference over several seeds is clear."""
    if diff.n < 2:
        return UNCLEAR
    if diff.low > tolerance:
        return BETTER
    if diff.high < -tolerance:
        return WORSE
    return UNCLEAR

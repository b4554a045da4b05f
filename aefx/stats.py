"""Small-sample statistics for the comparison: t intervals and paired differences."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
    from scipy.stats import t

    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = math.fsum(values) / n
    if n == 1:
        return Interval(mean, 0.0, -math.inf, math.inf, 1)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, std, mean - half, mean + half, n)


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Interval:
    """Interval of the mean of ``a[i] - b[i]``: both measured on the same seed (and fold)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    return t_interval([x - y for x, y in zip(a, b, strict=True)], confidence)


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

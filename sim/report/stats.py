"""Intervals over seeds: Student t for a mean and for a paired difference.

Seeds are the replications of a sweep point; a point's seed fixes its data
split, initialisation and channel, so two algorithms run on the same seed are
compared seed by seed (paired), which removes the seed-to-seed spread that
both share.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Interval", "t_interval", "paired_interval", "verdict", "LEVEL", "NO_DIFFERENCE", "ONE_SEED"]

LEVEL = 0.95
NO_DIFFERENCE = "no significant difference"
ONE_SEED = "one seed: no interval"


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values and its two-sided 95% Student t interval (NaN bounds when n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def significant(self) -> bool:
        """The interval excludes 0 (never with fewer than two values)."""
        return self.n >= 2 and (self.low > 0 or self.high < 0)

    def text(self, scale: float = 1.0, digits: int = 3) -> str:
        """``mean [low, high]`` times ``scale``; the mean alone from one value, a dash from none."""
        if self.n == 0 or math.isnan(self.mean):
            return "—"
        if self.n < 2 or math.isnan(self.low):
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} [{self.low * scale:.{digits}f}, {self.high * scale:.{digits}f}]"


def t_interval(values: Iterable[float], level: float = LEVEL) -> Interval:
    """mean +- t_{(1+level)/2, n-1} * s / sqrt(n) over the finite ``values``."""
    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, math.nan, math.nan, int(x.size))
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return Interval(mean, mean - half, mean + half, int(x.size))


def paired_interval(
    a: Mapping[Hashable, float], b: Mapping[Hashable, float], level: float = LEVEL
) -> Interval:
    """Interval of the mean of ``a[s] - b[s]`` over the seeds ``s`` both have."""
    return t_interval([a[s] - b[s] for s in a if s in b], level)


def verdict(iv: Interval) -> str:
    """``higher`` / ``lower`` when the interval excludes 0, else why nothing is claimed."""
    if iv.n < 2:
        return ONE_SEED
    if iv.low > 0:
        return "higher"
    if iv.high < 0:
        return "lower"
    return NO_DIFFERENCE

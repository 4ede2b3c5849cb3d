"""The numbers behind a sweep report: cost to a target, savings, Pareto front, series.

Pure functions over ``results.csv`` rows (see :func:`sim.results.read_results`)
and per-round records; the plotting lives in ``sim.sweep_report``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Cost",
    "cost_to_target",
    "swept_params",
    "Series",
    "series",
    "savings",
    "pareto_front",
    "COST_METRICS",
]

# (column of a cost, words for it)
COST_METRICS = (("uplink_bytes", "uplink"), ("airtime_s", "airtime"), ("energy_j", "energy"))


@dataclass(frozen=True)
class Cost:
    """What a run spent up to (and including) the round it first reached the target."""

    rounds: int
    uplink_bytes: float
    airtime_s: float
    energy_j: float


def cost_to_target(rounds: Sequence[Mapping[str, Any]], target: float, metric: str = "eval_accuracy") -> Cost | None:
    """Cumulative cost until ``metric`` first reaches ``target``; None if it never does."""
    airtime = energy = 0.0
    for i, r in enumerate(rounds):
        airtime += float(r["airtime_s"])
        energy += float(r["energy_j"])
        value = r.get(metric)
        if value is not None and value == value and float(value) >= target:
            return Cost(i + 1, float(r["cum_uplink_bytes"]), airtime, energy)
    return None


def swept_params(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The parameter columns of results.csv (between ``status`` and ``algorithm``)."""
    if not rows:
        return []
    cols = list(rows[0])
    return cols[cols.index("status") + 1 : cols.index("algorithm")]


@dataclass(frozen=True)
class Series:
    """One line of a plot: ``y`` mean (and range) over seeds at each ``x``."""

    label: str
    algorithm: str
    x: np.ndarray
    y: np.ndarray
    y_min: np.ndarray
    y_max: np.ndarray


def _key(row: Mapping[str, Any], params: Sequence[str]) -> tuple[Any, ...]:
    return tuple(row.get(p) for p in params)


def series(rows: Sequence[Mapping[str, Any]], x: str, y: str) -> list[Series]:
    """Lines of ``y`` against ``x``: one per algorithm and combination of the other swept values.

    Points that differ only in seed are averaged; rows without a value of
    ``y`` (failed points, target not reached) are left out.
    """
    others = [p for p in swept_params(rows) if p not in (x, "seed", "workload.algorithm")]
    groups: dict[tuple[Any, ...], dict[float, list[float]]] = {}
    for r in rows:
        if r.get("status") != "ok" or r.get(y) is None or r.get(x) is None:
            continue
        groups.setdefault((r["algorithm"], *_key(r, others)), {}).setdefault(float(r[x]), []).append(float(r[y]))
    out = []
    for key, by_x in groups.items():
        xs = np.array(sorted(by_x))
        ys = [np.array(by_x[v]) for v in xs]
        label = ", ".join([str(key[0]), *(f"{p}={v}" for p, v in zip(others, key[1:]))])
        out.append(
            Series(label, str(key[0]), xs, np.array([v.mean() for v in ys]), np.array([v.min() for v in ys]),
                   np.array([v.max() for v in ys]))
        )
    return out


def savings(
    rows: Sequence[Mapping[str, Any]], baseline: str, columns: Sequence[str]
) -> list[dict[str, Any]]:
    """Each algorithm's cost as a fraction of ``baseline``'s at the same setting (seeds averaged).

    Returns one dict per (algorithm, setting): ``algorithm``, ``setting``
    (the other swept values, as text) and, per column, the ratio
    mean(algorithm) / mean(baseline), or None where either is missing.
    """
    params = [p for p in swept_params(rows) if p not in ("seed", "workload.algorithm")]
    means: dict[tuple[str, tuple[Any, ...]], dict[str, list[float]]] = {}
    for r in rows:
        if r.get("status") != "ok":
            continue
        cell = means.setdefault((r["algorithm"], _key(r, params)), {c: [] for c in columns})
        for c in columns:
            if r.get(c) is not None:
                cell[c].append(float(r[c]))
    out = []
    for (alg, setting), values in means.items():
        base = means.get((baseline, setting))
        if alg == baseline or base is None:
            continue
        entry: dict[str, Any] = {"algorithm": alg, "setting": ", ".join(f"{p}={v}" for p, v in zip(params, setting))}
        for c in columns:
            a, b = values[c], base[c]
            entry[c] = float(np.mean(a) / np.mean(b)) if a and b and np.mean(b) > 0 else None
        out.append(entry)
    return out


def pareto_front(cost: Sequence[float], benefit: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats (lower cost and higher benefit), by rising cost.

    A point is dominated when another costs no more and gives no less, and is
    strictly better in one of the two; of several points with equal cost and
    benefit, only the first (lowest index) is listed.
    """
    c, b = np.asarray(cost, dtype=float), np.asarray(benefit, dtype=float)
    front: list[int] = []
    for i in np.lexsort((np.arange(c.size), -b, c)):
        if not (np.isfinite(c[i]) and np.isfinite(b[i])):
            continue
        if not front or b[i] > b[front[-1]]:
            front.append(int(i))
    return front

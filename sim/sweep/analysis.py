"""The numbers behind a sweep report: cost to a target, savings, Pareto front, series.

Pure functions over ``results.csv`` rows (see :func:`sim.store.results.read_results`)
and per-round records; the plotting lives in ``sim.report.sweep``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.report.stats import ONE_SEED, Interval, paired_interval, t_interval, verdict

__all__ = [
    "Cost",
    "cost_to_target",
    "swept_params",
    "Series",
    "series",
    "savings",
    "Saving",
    "setting_params",
    "setting_text",
    "cells",
    "by_seed",
    "over_seeds",
    "paired_differences",
    "delivered_nothing",
    "LOCAL_ONLY",
    "CENTRALISED",
    "REACHED_BY_PRIVATE",
    "pareto_front",
    "COST_METRICS",
]

# (column of a cost, words for it)
COST_METRICS = (("uplink_bytes", "uplink"), ("airtime_s", "airtime"), ("energy_j", "energy"))

# The two bounds every comparison carries (workload.algorithm names): private
# training alone, and one model on the union of the private data (no network).
LOCAL_ONLY = "local_only"
CENTRALISED = "centralised"
REFERENCES = (LOCAL_ONLY, CENTRALISED)
REACHED_BY_PRIVATE = "reached by private training alone"


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
    """One line of a plot: ``y`` mean over seeds at each ``x``, with its 95% interval (the mean where n < 2)."""

    label: str
    algorithm: str
    x: np.ndarray
    y: np.ndarray
    y_low: np.ndarray
    y_high: np.ndarray


def _key(row: Mapping[str, Any], params: Sequence[str]) -> tuple[Any, ...]:
    return tuple(row.get(p) for p in params)


def setting_params(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The swept keys that make a setting: every swept key but the seed and the algorithm."""
    return [p for p in swept_params(rows) if p not in ("seed", "workload.algorithm")]


def setting_text(params: Sequence[str], setting: Sequence[Any]) -> str:
    return ", ".join(f"{p}={v}" for p, v in zip(params, setting))


def _band(values: Sequence[float]) -> tuple[float, float, float]:
    iv = t_interval(values)
    return (iv.mean, iv.low, iv.high) if iv.n >= 2 else (iv.mean, iv.mean, iv.mean)


def series(rows: Sequence[Mapping[str, Any]], x: str, y: str) -> list[Series]:
    """Lines of ``y`` against ``x``: one per algorithm and combination of the other swept values.

    Points that differ only in seed are averaged (95% t interval); rows
    without a value of ``y`` (failed points, target not reached) are left out.
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
        bands = np.array([_band(by_x[v]) for v in xs]).reshape(-1, 3)
        label = ", ".join([str(key[0]), *(f"{p}={v}" for p, v in zip(others, key[1:]))])
        out.append(Series(label, str(key[0]), xs, bands[:, 0], bands[:, 1], bands[:, 2]))
    return out


# A cell of the sweep: {(algorithm, setting): {seed: row}}.
Cells = dict[tuple[str, tuple[Any, ...]], dict[Any, Mapping[str, Any]]]


def cells(rows: Sequence[Mapping[str, Any]]) -> Cells:
    """The finished rows by algorithm and setting, then by seed (a row without a seed is its own)."""
    params = setting_params(rows)
    out: Cells = {}
    for i, r in enumerate(rows):
        if r.get("status") == "ok":
            out.setdefault((str(r["algorithm"]), _key(r, params)), {})[r.get("seed", ("row", i))] = r
    return out


def by_seed(cell: Mapping[Any, Mapping[str, Any]], col: str) -> dict[Any, float]:
    """``{seed: value of col}`` for the runs of a cell that have one."""
    out = {}
    for seed, r in cell.items():
        v = r.get(col)
        if v is not None and math.isfinite(float(v)):
            out[seed] = float(v)
    return out


def over_seeds(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    """Per algorithm and setting: ``algorithm``, ``setting`` (tuple) and an Interval per column."""
    return [{"algorithm": alg, "setting": setting, **{c: t_interval(by_seed(cell, c).values()) for c in columns}}
            for (alg, setting), cell in cells(rows).items()]


def paired_differences(rows: Sequence[Mapping[str, Any]], col: str, versus: str) -> list[dict[str, Any]]:
    """``col`` of each other algorithm minus ``versus``'s, paired by seed at each setting.

    One dict per (algorithm, setting) where ``versus`` ran: ``algorithm``,
    ``setting``, ``interval`` (over the seeds both have) and ``verdict``.
    """
    cs = cells(rows)
    out = []
    for (alg, setting), cell in cs.items():
        base = cs.get((versus, setting))
        if alg == versus or base is None:
            continue
        iv = paired_interval(by_seed(cell, col), by_seed(base, col))
        if iv.n:
            out.append({"algorithm": alg, "setting": setting, "interval": iv, "verdict": verdict(iv)})
    return out


def delivered_nothing(row: Mapping[str, Any]) -> bool:
    """No upload arrived (``delivered_total`` 0), or nothing sent arrived (0 uplink bytes)."""
    delivered, sent = row.get("delivered_total"), row.get("uplink_bytes_total")
    return (delivered is not None and float(delivered) == 0) or (sent is not None and float(sent) == 0)


@dataclass(frozen=True)
class Saving:
    """``algorithm``'s cost against ``baseline``'s at one setting, and whether a saving may be claimed.

    ``claim`` is ``claimed`` (significantly above local_only, paired),
    ``unqualified`` (no local_only to qualify it against) or why nothing is
    claimed: ``baseline delivered nothing``, ``reached by private training
    alone``, ``target not reached in every seed``, ``not significantly above
    local_only``, ``one seed: no interval``. ``ratio`` is mean(algorithm) /
    mean(baseline) over the paired seeds; ``diff`` the paired interval of
    algorithm - baseline and ``verdicts`` its reading (``lower`` is a saving).
    """

    algorithm: str
    baseline: str
    setting: tuple[Any, ...]
    claim: str
    why: str
    ratio: dict[str, float | None]
    diff: dict[str, Interval]
    verdicts: dict[str, str]
    vs_local: Interval | None


def _qualify(
    cs: Cells, alg: str, setting: tuple[Any, ...], pair: Sequence[Any], acc: str | None, local: bool
) -> tuple[str, str, Interval | None]:
    if acc is None:
        return "unqualified", "no accuracy in this sweep to qualify it", None
    if not local:
        return "unqualified", f"{LOCAL_ONLY} is not in this sweep", None
    base = cs.get((LOCAL_ONLY, setting))
    if base is None:
        return "unqualified", f"{LOCAL_ONLY} did not run at this setting", None
    mine = {s: v for s, v in by_seed(cs[(alg, setting)], acc).items() if s in pair}
    iv = paired_interval(mine, by_seed(base, acc))
    if not iv.significant or iv.low <= 0:
        return "not significantly above local_only", "", iv
    return "claimed", "", iv


def savings(
    rows: Sequence[Mapping[str, Any]],
    baseline: str,
    columns: Sequence[str],
    *,
    accuracy: str | None = None,
    reached: str | None = None,
) -> list[Saving]:
    """Each algorithm's cost in ``columns`` against ``baseline``'s at the same setting, paired by seed.

    ``accuracy`` names the column that qualifies a saving against
    ``local_only`` (None: a network-only sweep, every saving unqualified);
    ``reached`` the column that is empty where a run missed the target (the
    cost-to-target columns; None for whole-run totals). The references
    ``local_only`` and ``centralised`` get no saving of their own.
    """
    cs = cells(rows)
    has_local = any(alg == LOCAL_ONLY for alg, _ in cs)
    out = []
    for (alg, setting), cell in cs.items():
        base = cs.get((baseline, setting))
        if alg == baseline or alg in REFERENCES or base is None:
            continue
        pair = [s for s in cell if s in base]
        ratio: dict[str, float | None] = {}
        diff: dict[str, Interval] = {}
        for c in columns:
            a, b = by_seed(cell, c), by_seed(base, c)
            common = [s for s in pair if s in a and s in b]
            ma, mb = (float(np.mean([a[s] for s in common])), float(np.mean([b[s] for s in common]))) if common \
                else (math.nan, math.nan)
            ratio[c] = ma / mb if common and mb > 0 else None
            diff[c] = paired_interval({s: a[s] for s in common}, b)
        verdicts = {c: verdict(diff[c]) for c in columns}
        claim, why, vs_local = _qualify(cs, alg, setting, pair, accuracy, has_local)
        empty = [s for s in pair if delivered_nothing(base[s])]
        local = cs.get((LOCAL_ONLY, setting), {})
        local_reached = [s for s in local if reached is not None and local[s].get(reached) is not None]
        missed = [s for s in pair if reached is not None
                  and (cell[s].get(reached) is None or base[s].get(reached) is None)]
        if empty:
            claim, why = "baseline delivered nothing", f"{baseline} delivered no upload (seed {', '.join(map(str, empty))})"
        elif local_reached:
            claim, why = REACHED_BY_PRIVATE, f"{LOCAL_ONLY} reached it in {len(local_reached)} of {len(local)} seeds"
        elif missed:
            claim, why = "target not reached in every seed", f"missed in {len(missed)} of {len(pair)} paired seeds"
        elif len(pair) < 2:
            claim, why = ONE_SEED, "add seeds (--seeds 3) for an interval"
        out.append(Saving(alg, baseline, setting, claim, why, ratio, diff, verdicts, vs_local))
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

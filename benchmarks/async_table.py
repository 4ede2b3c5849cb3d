"""Asynchronous (FedBuff) against synchronous rounds: time to accuracy, from a finished sweep folder.

    fedwave sweep scenarios/async_vs_sync.yaml --out runs/async_vs_sync --seeds 3 --workers 1
    python benchmarks/async_table.py runs/async_vs_sync --target 0.35 0.45 --at 48

Several folders may be given; where two runs have the same algorithm, mode
and seed, the longer one is kept (a run of more rounds repeats the shorter
one's rounds exactly: the note under the tables says whether it did).

Per run: mode, aggregations, simulated time, final accuracy, the simulated
time at which an evaluation first reached each ``--target`` ("never" when
none did), the accuracy of the last evaluation at or before ``--at`` seconds (none
if the run ended before),
and for async the staleness of the delivered updates.  Then over seeds (same
seed = same data, init, compute speeds and channel for every row): the final
accuracy and the accuracy at ``--at`` with 95 % t intervals, async minus sync
paired by seed, and each row against ``local_only``.  ``local_only`` and
``centralised`` send nothing and run synchronously; their simulated clock has
no network in it (``centralised`` has no client compute either), so their
time columns are left empty: they are accuracy bounds, not time references.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.report.run import load_run
from sim.report.stats import Interval, paired_interval, t_interval

_iv = Interval.text  # mean [95% interval], scaled

BOUNDS = ("local_only", "centralised")


def time_to(evals: Sequence[tuple[float, float]], target: float) -> float:
    """The simulated time of the first evaluation at or above ``target``; inf if none."""
    return next((t for t, a in evals if a >= target), math.inf)


def accuracy_at(evals: Sequence[tuple[float, float]], at_s: float, end_s: float) -> float:
    """The last evaluation at or before ``at_s``; nan if none yet or if the run ended before ``at_s``."""
    seen = [a for t, a in evals if t <= at_s]
    return seen[-1] if seen and end_s >= at_s else math.nan


def load_rows(folder: Path, targets: Sequence[float], at_s: float) -> list[dict[str, Any]]:
    rows = []
    for run in sorted((folder / "runs").iterdir()):
        if not (run / "summary.json").is_file() or not (run / "point.json").is_file():
            continue
        point = json.loads((run / "point.json").read_text())
        data = load_run(run)
        scn = data.scn
        evals = [(float(r["sim_time_s"]), float(r["eval_accuracy"])) for r in data.rounds
                 if r.get("eval_accuracy") is not None and not math.isnan(float(r["eval_accuracy"]))]
        row: dict[str, Any] = {
            "algorithm": scn.workload.algorithm, "mode": scn.round.mode, "seed": scn.seed,
            "aggregations": len(data.rounds), "sim_time_s": float(data.summary["sim_time_s"]),
            "accuracy": evals[-1][1] if evals else math.nan, "evals": evals,
            "to": {t: time_to(evals, t) for t in targets},
            "at": accuracy_at(evals, at_s, float(data.summary["sim_time_s"])),
            "delivered": int(data.summary["delivered_total"]), "wall_time_s": point.get("wall_time_s"),
        }
        if scn.round.mode == "async":
            tau = data.clients["staleness"][np.asarray(data.clients["outcome"]) == "delivered"].astype(int)
            row["staleness"] = tau
            row["stale"] = int((np.asarray(data.clients["outcome"]) == "stale").sum())
        rows.append(row)
    return rows


def _label(r: dict[str, Any]) -> str:
    return f"`{r['algorithm']}`" + ("" if r["algorithm"] in BOUNDS else f" {r['mode']}")


def _t(x: float, end_s: float | None = None) -> str:
    if not math.isinf(x):
        return f"{x:.1f}"
    return "never" if end_s is None else f"never (ends {end_s:.0f})"




def _order(r: dict[str, Any]) -> tuple[int, str]:
    return (r["algorithm"] in BOUNDS, r["algorithm"] + r["mode"][::-1])


def runs_table(rows: Sequence[dict[str, Any]], targets: Sequence[float], at_s: float) -> list[str]:
    head = ["seed", "row", "aggregations", "sim time [s]", "final accuracy",
            *(f"time to {t:g} [s]" for t in targets), f"accuracy at {at_s:g} s", "delivered", "staleness of delivered (mean, max)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows, key=lambda r: (r["seed"], _order(r))):
        bound = r["algorithm"] in BOUNDS
        tau = r.get("staleness")
        stale = "" if tau is None or tau.size == 0 else f"{tau.mean():.2f}, {tau.max()} ({r['stale']} dropped stale)"
        out.append(" | ".join([
            f"| {r['seed']}", _label(r), str(r["aggregations"]), "—" if bound else f"{r['sim_time_s']:.1f}",
            f"{r['accuracy']:.3f}", *("—" if bound else _t(r["to"][t]) for t in targets),
            "—" if bound else ("ended before" if math.isnan(r["at"]) else f"{r['at']:.3f}"), str(r["delivered"]), stale,
        ]) + " |")
    return out


def seeds_table(rows: Sequence[dict[str, Any]], targets: Sequence[float], at_s: float) -> list[str]:
    groups: dict[str, dict[int, dict[str, Any]]] = {}
    for r in sorted(rows, key=_order):
        groups.setdefault(_label(r), {})[r["seed"]] = r
    local = next((g for k, g in groups.items() if "local_only" in k), {})
    sync = next((g for k, g in groups.items() if k.endswith(" sync")), {})
    final = {k: {s: r["accuracy"] for s, r in g.items()} for k, g in groups.items()}
    at = {k: {s: r["at"] for s, r in g.items()} for k, g in groups.items()}
    head = ["row", "final accuracy [95% CI]", "Δ final vs local_only, paired [pp]", f"accuracy at {at_s:g} s [95% CI]",
            f"Δ at {at_s:g} s vs sync, paired [pp]", *(f"time to {t:g} [s], per seed" for t in targets)]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k, g in groups.items():
        bound = any(b in k for b in BOUNDS)
        seeds = sorted(g)
        out.append(" | ".join([
            f"| {k}", _iv(t_interval(final[k].values())),
            "—" if g is local else _iv(paired_interval(final[k], {s: r["accuracy"] for s, r in local.items()}), 100, 1),
            "—" if bound else _iv(t_interval(at[k].values())),
            "—" if bound or g is sync else _iv(paired_interval(at[k], {s: r["at"] for s, r in sync.items()}), 100, 1),
            *("—" if bound else ", ".join(_t(g[s]["to"][t], g[s]["sim_time_s"]) for s in seeds) for t in targets),
        ]) + " |")
    wall = sum(r["wall_time_s"] or 0.0 for r in rows)
    out += ["", f"Seeds {', '.join(map(str, sorted({r['seed'] for r in rows})))}; {len(rows)} runs, "
            f"{wall:.0f} s of run wall time in all."]
    return out


def longest(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """One run per (algorithm, mode, seed), the one of most rounds; notes on the shorter ones dropped."""
    keep: dict[tuple[str, str, int], dict[str, Any]] = {}
    notes = []
    for r in sorted(rows, key=lambda r: -r["aggregations"]):
        key = (r["algorithm"], r["mode"], r["seed"])
        if key not in keep:
            keep[key] = r
            continue
        long = keep[key]
        same = long["evals"][: len(r["evals"]) - 1] == r["evals"][:-1]
        notes.append(f"{key[0]} {key[1]} seed {key[2]}: the {r['aggregations']}-round run is replaced by the "
                     f"{long['aggregations']}-round one, whose evaluations before the shorter run's last "
                     f"{'are the same' if same else 'DIFFER'}.")
    return list(keep.values()), notes


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, nargs="+", help="finished sweep folders")
    ap.add_argument("--target", type=float, nargs="+", default=[0.4, 0.5], help="target accuracies")
    ap.add_argument("--at", type=float, default=30.0, help="simulated time [s] at which to compare accuracies")
    args = ap.parse_args(argv)
    rows, notes = longest([r for f in args.folder for r in load_rows(f, args.target, args.at)])
    print("\n".join(runs_table(rows, args.target, args.at)))
    print()
    print("\n".join(seeds_table(rows, args.target, args.at)))
    if notes:
        print()
        print("\n".join(notes))


if __name__ == "__main__":
    main()

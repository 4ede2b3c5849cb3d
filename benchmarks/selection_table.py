"""The selection tables of docs/results.md from a finished sweep folder.

    fedwave sweep scenarios/selection.yaml --out runs/selection
    python benchmarks/selection_table.py runs/selection --runs

    fedwave sweep scenarios/selection_tiny.yaml --out runs/selection_tiny --seeds 3 --workers 1
    python benchmarks/selection_table.py runs/selection_tiny runs/selection_tiny_bounds

(several sweep folders are read as one: the bounds' sweep is a second folder, see
scenarios/selection_tiny.yaml).

``--runs``: one row per run: policy, M, seed, uploads delivered, delivered
bytes, client energy, delivered bytes per joule, Jain's fairness index of
participation and of delivered bytes, and (learning runs) the final accuracy
and accuracy per uplink MB.

Without it (learning sweeps over seeds): one row per algorithm and policy,
each figure the mean over seeds with its 95 % Student t interval; accuracy
differences paired by seed (same seed = same data, init and channel) against
``uniform`` selection and against ``local_only``; uplink MB sent (every
attempted upload, delivered or not) and delivered; accuracy, and the gain over
``local_only``, per uplink MB and per joule of client energy (compute and
radio); Jain's index of participation and of delivered bytes.  The bounds send
nothing, so their per-byte and per-joule columns are empty.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.report.participation import participation_stats
from sim.report.run import load_run
from sim.report.stats import Interval, paired_interval, t_interval

_fmt = Interval.text  # mean [95% interval], scaled

BOUNDS = ("local_only", "centralised")


def load_rows(folder: Path) -> list[dict[str, Any]]:
    """One dict per finished run of the sweep folder."""
    rows = []
    for run in sorted((folder / "runs").iterdir()):
        if not (run / "summary.json").is_file() or not (run / "point.json").is_file():
            continue
        point = json.loads((run / "point.json").read_text())
        params = point.get("params", point)
        data = load_run(run)
        scn, s = data.scn, data.summary
        st = participation_stats(data.result(), scn.clients.count)
        acc = s["final_metrics"].get("eval_accuracy")
        delivered_mb = float(st["delivered_bytes"].sum()) / 1e6
        rows.append({
            "algorithm": scn.workload.algorithm,
            "policy": params.get("clients.selection", scn.clients.selection) if scn.clients.per_round else "all",
            "m": scn.clients.per_round,
            "seed": scn.seed,
            "delivered": int(s["delivered_total"]),
            "uploads": int(sum(r["participants"] for r in data.rounds)),
            "uplink_mb": s["uplink_bytes_total"] / 1e6,
            "delivered_mb": delivered_mb,
            "energy_j": float(s["energy_j_total"]),
            "jain_participation": st["jain_participation"],
            "jain_delivered_bytes": st["jain_delivered_bytes"],
            "accuracy": acc,
            "wall_time_s": point.get("wall_time_s"),
        })
    return rows




def runs_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    out = ["| algorithm | policy | M | seed | uploads delivered | delivered MB | energy J | delivered MB/J "
           "| Jain participation | Jain delivered bytes | accuracy | accuracy per uplink MB |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["algorithm"], str(r["m"]), r["policy"], r["seed"])):
        acc = "" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        per = "" if r["accuracy"] is None or r["uplink_mb"] == 0 else f"{r['accuracy'] / r['uplink_mb']:.4f}"
        mbj = "" if r["energy_j"] == 0 else f"{r['delivered_mb'] / r['energy_j']:.4f}"
        jp = "—" if math.isnan(r["jain_participation"]) else f"{r['jain_participation']:.3f}"
        jd = "—" if math.isnan(r["jain_delivered_bytes"]) else f"{r['jain_delivered_bytes']:.3f}"
        out.append(f"| {r['algorithm']} | {r['policy']} | {r['m']} | {r['seed']} | {r['delivered']} "
                   f"| {r['delivered_mb']:.1f} | {r['energy_j']:.0f} | {mbj} | {jp} | {jd} | {acc} | {per} |")
    return out


def seeds_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Rows over seeds (see the module docstring)."""
    groups: dict[tuple[str, str, Any], dict[int, dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["algorithm"], r["policy"], r["m"]), {})[r["seed"]] = r

    def col(g: dict[int, dict[str, Any]], key: str) -> dict[int, float]:
        return {s: float(r[key]) for s, r in g.items() if r[key] is not None}

    local = next((g for (a, _, _), g in groups.items() if a == "local_only"), {})
    uniform = next((g for (a, p, _), g in groups.items() if a not in BOUNDS and p == "uniform"), {})
    acc_local = col(local, "accuracy")
    out = ["| algorithm | selection | final accuracy [95% CI] | Δ vs uniform, paired [pp] | Δ vs local_only, paired [pp] "
           "| uploads delivered | uplink MB sent | delivered MB | accuracy per uplink MB | gain over local_only per uplink MB [pp] "
           "| client energy [J] | accuracy per kJ | Jain participation | Jain delivered bytes |",
           "|" + "---|" * 14]
    order = sorted(groups, key=lambda k: (k[0] in BOUNDS, k[0], ("uniform", "round_robin", "best_channel",
                                                                   "proportional_fair", "age", "all").index(k[1])))
    for key in order:
        g = groups[key]
        algorithm, policy, m = key
        acc = col(g, "accuracy")
        sends = algorithm not in BOUNDS
        d_uni = "—" if g is uniform or not sends else _fmt(paired_interval(acc, col(uniform, "accuracy")), 100, 1)
        d_loc = "—" if g is local else _fmt(paired_interval(acc, acc_local), 100, 1)
        per_mb = {s: acc[s] / g[s]["uplink_mb"] for s in acc if g[s]["uplink_mb"] > 0}
        gain_mb = {s: (acc[s] - acc_local[s]) / g[s]["uplink_mb"] for s in acc if s in acc_local and g[s]["uplink_mb"] > 0}
        per_kj = {s: acc[s] / (g[s]["energy_j"] / 1e3) for s in acc if g[s]["energy_j"] > 0}
        delivered = f"{sum(r['delivered'] for r in g.values())}/{sum(r['uploads'] for r in g.values())}"
        sel = f"{policy}, M={m}" if m else "every client"
        out.append(" | ".join([
            f"| `{algorithm}`", sel if sends or algorithm == "local_only" else "— (one model)",
            _fmt(t_interval(acc.values())), d_uni, d_loc, delivered if sends else "0",
            _fmt(t_interval(col(g, "uplink_mb").values()), 1, 2), _fmt(t_interval(col(g, "delivered_mb").values()), 1, 2),
            _fmt(t_interval(per_mb.values()), 1, 3) if sends else "—",
            _fmt(t_interval(gain_mb.values()), 100, 2) if sends else "—",
            _fmt(t_interval(col(g, "energy_j").values()), 1, 1),
            _fmt(t_interval(per_kj.values()), 1, 1) if sends else "—",
            _fmt(t_interval(col(g, "jain_participation").values())) if sends else "—",
            _fmt(t_interval(col(g, "jain_delivered_bytes").values())) if sends else "—",
        ]) + " |")
    seeds = sorted({r["seed"] for r in rows})
    wall = sum(r["wall_time_s"] or 0.0 for r in rows)
    out.append("")
    out.append(f"Seeds {', '.join(map(str, seeds))}; {len(rows)} runs, {wall:.0f} s of run wall time in all.")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, nargs="+", help="finished sweep folders")
    ap.add_argument("--runs", action="store_true", help="one row per run instead of the table over seeds")
    args = ap.parse_args(argv)
    rows = [r for f in args.folder for r in load_rows(f)]
    print("\n".join(runs_table(rows) if args.runs else seeds_table(rows)))


if __name__ == "__main__":
    main()

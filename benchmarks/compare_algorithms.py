"""Every algorithm beside its bounds, over seeds, SNRs and Dirichlet alphas; prints the docs/results.md tables.

Same seed = same data split, LoRA init and channel for every row (common
random numbers), so differences are *paired* over seeds.  Figures are the
mean over seeds with a 95 % t interval (n - 1 degrees of freedom); a
difference whose interval holds 0 is not established.

Rows, per alpha:

- ``local_only`` and ``centralised`` (real algorithms, ``workload.algorithm``):
  they use no network, so they are run once per seed and alpha and stand in
  every SNR block;
- ``fedavg_lora``, ``fd_full``, ``fd_topk_zeropad``, ``adaptive_topk`` at each SNR;
- ``adaptive_topk eta=X`` (``--eta``): AdaLD with another share of the budget for logits;
- ``zeropad k=mean k`` (``--equal-k``): fd_topk_zeropad with k set to
  adaptive_topk's mean k at that SNR and seed (about equal bytes);
- ``--ablations``: ``adaptive zeropad-agg`` (adaptive k, zero-padded
  aggregation) and ``adaptive hidden_weight=0`` (no hidden projection).

Columns: final accuracy; paired differences against local_only and against
fd_full; uplink bytes (mean per run) and their ratio to fd_full's on the same
seed; delivered uploads; mean k.

    python benchmarks/compare_algorithms.py [scenario] [--snr 0 10 20] [--seeds 31 32 33] [--alpha 0.1 1.0]
        [--eta 0.3] [--equal-k] [--ablations] [--set KEY=VALUE] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scipy import stats

from sim.run import run_scenario
from sim.scenario import load_scenario

ALGORITHMS = ("fedavg_lora", "fd_full", "fd_topk_zeropad", "adaptive_topk")
BOUNDS = ("local_only", "centralised")
HEADER = (
    "| alpha | SNR [dB] | algorithm | final accuracy [95% CI] | Δ vs local_only, paired [95% CI] "
    "| Δ vs fd_full, paired [95% CI] | uplink [kB] | uplink / fd_full | delivered | mean k |"
)

Run = tuple[dict[str, Any], list[dict[str, str]]]


def ci(xs: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """mean [low, high] with a 95 % t interval; the mean alone for one value."""
    if not xs:
        return "—"
    m = statistics.fmean(xs) * scale
    if len(xs) == 1:
        return f"{m:.{digits}f}"
    half = stats.t.ppf(0.975, len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs)) * scale
    return f"{m:.{digits}f} [{m - half:.{digits}f}, {m + half:.{digits}f}]"


def run(scenario: str, overrides: list[str], out: Path) -> Run:
    summary = run_scenario(load_scenario(scenario, overrides), out)
    with open(out / "rounds.csv") as f:
        return summary, list(csv.DictReader(f))


def final_accuracy(rows: list[dict[str, str]]) -> float:
    return float([r for r in rows if r.get("eval_accuracy")][-1]["eval_accuracy"])


def mean_k(rows: list[dict[str, str]]) -> float | None:
    ks = [float(r["mean_k"]) for r in rows if r["mean_k"] not in ("", "nan")]
    return sum(ks) / len(ks) if ks else None


def row(alpha: float, snr: str, name: str, runs: list[Run | None], lower: list[Run | None], full: list[Run | None]) -> str:
    acc, d_low, d_full, up, ratio, ks = [], [], [], [], [], []
    delivered = possible = 0
    for e, lo, fu in zip(runs, lower, full):
        if e is None:
            continue
        summary, rows = e
        a = final_accuracy(rows)
        acc.append(a)
        if lo is not None and name != "local_only":
            d_low.append(a - final_accuracy(lo[1]))
        if fu is not None and name != "fd_full":
            d_full.append(a - final_accuracy(fu[1]))
        up.append(summary["uplink_bytes_total"] / 1e3)
        if fu is not None and fu[0]["uplink_bytes_total"] > 0:
            ratio.append(summary["uplink_bytes_total"] / fu[0]["uplink_bytes_total"])
        k = mean_k(rows)
        if k is not None:
            ks.append(k)
        delivered += summary["delivered_total"]
        possible += summary["rounds"] * summary["clients"]
    if not acc:
        return ""
    ratio_s = "—" if name in BOUNDS or not ratio else f"{statistics.fmean(ratio):.2f}"
    return (
        f"| {alpha:g} | {snr} | `{name}` | {ci(acc)} | {ci(d_low, 100, 1) if d_low else '—'} | "
        f"{ci(d_full, 100, 1) if d_full else '—'} | {statistics.fmean(up):.1f} | {ratio_s} | "
        f"{delivered}/{possible} | {f'{statistics.fmean(ks):.0f}' if ks else '—'} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/compare_tiny.yaml")
    ap.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds to repeat over (default: the scenario's)")
    ap.add_argument("--alpha", type=float, nargs="+", default=None, help="Dirichlet alphas (default: the scenario's)")
    ap.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    ap.add_argument("--eta", type=float, nargs="*", default=[], help="extra adaptive_topk rows at these eta")
    ap.add_argument("--equal-k", action="store_true", help="add fd_topk_zeropad at adaptive_topk's mean k")
    ap.add_argument("--ablations", action="store_true", help="add adaptive_topk with zero-padded aggregation and with hidden_weight 0")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's summary and rounds here")
    args = ap.parse_args()

    configs: list[tuple[str, list[str]]] = [(a, [f"workload.algorithm={a}"]) for a in args.algorithms]
    configs += [(f"adaptive_topk eta={e:g}", ["workload.algorithm=adaptive_topk", f"workload.eta={e}"]) for e in args.eta]
    if args.ablations:
        configs += [
            ("adaptive zeropad-agg", ["workload.algorithm=adaptive_topk", "workload.adaptive_aggregation=zeropad"]),
            ("adaptive hidden_weight=0", ["workload.algorithm=adaptive_topk", "workload.hidden_weight=0"]),
        ]
    seeds: list[int | None] = list(args.seeds) if args.seeds else [None]
    alphas: list[float | None] = list(args.alpha) if args.alpha else [None]
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|", flush=True)
    started = time.perf_counter()
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for alpha in alphas:
            a_over = [] if alpha is None else [f"workload.dirichlet_alpha={alpha}"]
            alpha_shown = alpha if alpha is not None else float(load_scenario(args.scenario, args.set).workload.dirichlet_alpha)
            bounds: dict[str, list[Run | None]] = {}
            for seed in seeds:
                s_over = [] if seed is None else [f"seed={seed}"]
                for b in BOUNDS:
                    bounds.setdefault(b, []).append(
                        run(args.scenario, [*args.set, *a_over, *s_over, f"workload.algorithm={b}"], tmp / f"{b}-{alpha}-{seed}"))
            for b in BOUNDS:
                print(row(alpha_shown, "any (no network)", b, bounds[b], bounds["local_only"], [None] * len(seeds)), flush=True)
            raw[f"alpha={alpha_shown:g}"] = {"bounds": {b: [{"summary": e[0], "rounds": e[1]} for e in v if e] for b, v in bounds.items()}}
            for snr in args.snr:
                runs: dict[str, list[Run | None]] = {}
                for seed in seeds:
                    base = [*args.set, *a_over, f"channel.snr_db={snr}", *([] if seed is None else [f"seed={seed}"])]
                    for name, extra in configs:
                        runs.setdefault(name, []).append(run(args.scenario, [*base, *extra], tmp / f"{name}-{alpha}-{snr}-{seed}"))
                    if args.equal_k:
                        last = runs.get("adaptive_topk", [None])[-1]
                        k = None if last is None else mean_k(last[1])
                        eqk = runs.setdefault("zeropad k=mean k", [])
                        if k is None:
                            eqk.append(None)  # adaptive_topk sent nothing: there is no k to match
                        else:
                            extra = ["workload.algorithm=fd_topk_zeropad", f"workload.k_fixed={max(1, round(k))}"]
                            eqk.append(run(args.scenario, [*base, *extra], tmp / f"eqk-{alpha}-{snr}-{seed}"))
                full = runs.get("fd_full", [None] * len(seeds))
                for name, per_seed in runs.items():
                    line = row(alpha_shown, f"{snr:g}", name, per_seed, bounds["local_only"], full)
                    if line:
                        print(line, flush=True)
                raw[f"alpha={alpha_shown:g}"][f"snr={snr:g}"] = {
                    name: [None if e is None else {"summary": e[0], "rounds": e[1]} for e in per_seed]
                    for name, per_seed in runs.items()
                }
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=1, sort_keys=True))
    print(f"<!-- {time.perf_counter() - started:.0f} s for all runs -->")


if __name__ == "__main__":
    main()

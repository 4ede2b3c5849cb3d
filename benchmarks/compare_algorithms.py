"""The four algorithms at several SNRs on one scenario; prints the docs/results.md table.

Same channel for every algorithm at a given seed (common random numbers);
with ``--seeds`` every row is repeated over seeds (data split, model init and
channel all change with the seed) and accuracies are given as mean ± sample
standard deviation, so a difference can be weighed against the seed-to-seed
spread.

Columns: the target accuracy at each SNR and seed is fd_full's final accuracy
minus one point; "bytes to target" is the cumulative uplink at the first round
whose eval_accuracy reaches it (mean over the seeds that reach it, with their
count). "accuracy at zeropad bytes" is the eval_accuracy of the last round
whose cumulative uplink is within fd_topk_zeropad's total (— when even round 0
sent more). "Δ accuracy vs fd_full" is the final accuracy minus fd_full's on
the same seed, mean ± sd over seeds: a paired difference, free of the
seed-to-seed spread that both runs share. Reference rows:

- ``local_only``: fd_full's clients with distillation switched off (private
  training alone); what distillation gains is the accuracy above it.
- ``adaptive_topk eta=X`` (``--eta``): AdaLD with another share of the budget
  for logits; eta trades bytes for k.
- ``zeropad k=mean k`` (``--equal-k``): fd_topk_zeropad with its fixed k set
  to adaptive_topk's mean k at that SNR and seed, so the two send about the
  same bytes; what remains between them is adaptive k per link plus support
  averaging against zero padding.

    python benchmarks/compare_algorithms.py [scenario] [--snr 0 10 20] [--seeds 11 12 13] [--eta 0.3] [--equal-k]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.run import run_scenario
from sim.scenario import load_scenario

ALGORITHMS = ("fedavg_lora", "fd_full", "fd_topk_zeropad", "adaptive_topk")
HEADER = (
    "| SNR [dB] | algorithm | final accuracy | Δ accuracy vs fd_full | final macro-F1 | uplink [kB] | downlink [kB] | bytes to target [kB] "
    "| accuracy at zeropad bytes | uplink airtime [s] | energy [J] | delivered | mean k |"
)


def mean_sd(xs: Sequence[float], digits: int = 3) -> str:
    if not xs:
        return "—"
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.fmean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def run(scenario: str, overrides: list[str], tmp: Path, tag: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    out = tmp / tag
    summary = run_scenario(load_scenario(scenario, overrides), out)
    with open(out / "rounds.csv") as f:
        return summary, list(csv.DictReader(f))


def mean_k(rows: list[dict[str, str]]) -> float | None:
    ks = [float(r["mean_k"]) for r in rows if r["mean_k"] not in ("", "nan")]
    return sum(ks) / len(ks) if ks else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/compare_tiny.yaml")
    ap.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds to repeat over (default: the scenario's)")
    ap.add_argument("--eta", type=float, nargs="*", default=[], help="extra adaptive_topk rows at these eta")
    ap.add_argument("--equal-k", action="store_true", help="add fd_topk_zeropad at adaptive_topk's mean k")
    ap.add_argument("--no-local-only", action="store_true", help="leave out the local_only reference row")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's summary and rounds here")
    args = ap.parse_args()

    configs: list[tuple[str, list[str]]] = [(a, [f"workload.algorithm={a}"]) for a in ALGORITHMS]
    if not args.no_local_only:
        configs.append(("local_only", ["workload.algorithm=fd_full", "workload.distill_steps=0"]))
    configs += [(f"adaptive_topk eta={e:g}", ["workload.algorithm=adaptive_topk", f"workload.eta={e}"]) for e in args.eta]
    seeds = args.seeds or [None]
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|")
    started = time.perf_counter()
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for snr in args.snr:
            # name -> one (summary, rows) per seed
            # (None where a run was not possible for that seed, so lists stay aligned by seed)
            runs: dict[str, list[tuple[dict[str, Any], list[dict[str, str]]] | None]] = {}
            for seed in seeds:
                base = [*args.set, f"channel.snr_db={snr}", *([] if seed is None else [f"seed={seed}"])]
                for name, extra in configs:
                    runs.setdefault(name, []).append(run(args.scenario, [*base, *extra], tmp, f"{name}-{snr}-{seed}"))
                if args.equal_k:
                    last = runs["adaptive_topk"][-1]
                    k = None if last is None else mean_k(last[1])
                    eqk = runs.setdefault("zeropad k=mean k", [])
                    if k is None:
                        eqk.append(None)  # adaptive_topk sent nothing: there is no k to match
                    else:
                        extra = ["workload.algorithm=fd_topk_zeropad", f"workload.k_fixed={max(1, round(k))}"]
                        eqk.append(run(args.scenario, [*base, *extra], tmp, f"eqk-{snr}-{seed}"))
            raw[f"{snr:g}"] = {
                name: [None if e is None else {"summary": e[0], "rounds": e[1]} for e in per_seed]
                for name, per_seed in runs.items()
            }
            full_acc = [float(e[1][-1]["eval_accuracy"]) for e in runs["fd_full"] if e is not None]
            equal_bytes = [e[0]["uplink_bytes_total"] for e in runs["fd_topk_zeropad"] if e is not None]
            for name, per_seed in runs.items():
                acc, f1, hits, at_equal, ks, deltas = [], [], [], [], [], []
                up = down = air = energy = 0.0
                delivered = possible = 0
                for entry, full, budget in zip(per_seed, full_acc, equal_bytes):
                    if entry is None:
                        continue
                    summary, rows = entry
                    target = full - 0.01
                    acc.append(float(rows[-1]["eval_accuracy"]))
                    deltas.append(acc[-1] - full)
                    f1.append(float(rows[-1]["eval_macro_f1"]))
                    hit = next((int(r["cum_uplink_bytes"]) for r in rows if float(r["eval_accuracy"]) >= target), None)
                    if hit is not None:
                        hits.append(hit / 1e3)
                    within = [float(r["eval_accuracy"]) for r in rows if int(r["cum_uplink_bytes"]) <= budget]
                    if within:
                        at_equal.append(within[-1])
                    k = mean_k(rows)
                    if k is not None:
                        ks.append(k)
                    up += summary["uplink_bytes_total"] / 1e3
                    down += summary["downlink_bytes_total"] / 1e3
                    air += summary["airtime_s_total"]
                    energy += summary["energy_j_total"]
                    delivered += summary["delivered_total"]
                    possible += summary["rounds"] * summary["clients"]
                n = len(acc)
                if n == 0:
                    continue  # no seed could run this row
                hit_s = "—" if not hits else f"{statistics.fmean(hits):.1f}" + (f" ({len(hits)}/{n})" if n > 1 else "")
                eq_s = mean_sd(at_equal) + (f" ({len(at_equal)}/{n})" if n > 1 and at_equal else "")
                delta = mean_sd(deltas) if name != "fd_full" else "—"
                print(
                    f"| {snr:g} | `{name}` | {mean_sd(acc)} | {delta} | {mean_sd(f1)} | {up / n:.1f} | {down / n:.1f} | {hit_s} | "
                    f"{eq_s} | {air / n:.2f} | {energy / n:.2f} | {delivered}/{possible} | "
                    f"{f'{statistics.fmean(ks):.0f}' if ks else '—'} |",
                    flush=True,
                )
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=1, sort_keys=True))
    print(f"<!-- {time.perf_counter() - started:.0f} s for all runs -->")


if __name__ == "__main__":
    main()

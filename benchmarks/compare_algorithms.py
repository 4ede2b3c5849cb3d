"""The four algorithms at three SNRs on one scenario; prints the docs/results.md table.

Same seed and channel for every algorithm (common random numbers).  Target
accuracy at each SNR: fd_full's final accuracy minus one point; "bytes to
target" is the cumulative uplink payload at the first round whose
eval_accuracy reaches it (— if never).  "accuracy at zeropad bytes" is the
eval_accuracy of the last round whose cumulative uplink is within
fd_topk_zeropad's total: the equal-bytes comparison (— if even round 0 sent more).

    python benchmarks/compare_algorithms.py [scenarios/compare_tiny.yaml] [--snr 0 10 20]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

from sim.run import run_scenario
from sim.scenario import load_scenario

ALGORITHMS = ("fedavg_lora", "fd_full", "fd_topk_zeropad", "adaptive_topk")
# A reference row: fd_full's clients with distillation switched off, i.e. private
# training alone; what a distillation algorithm gains is its accuracy above this.
REFERENCES = {"local_only": ("fd_full", ["workload.distill_steps=0"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/compare_tiny.yaml")
    ap.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    args = ap.parse_args()
    print("| SNR [dB] | algorithm | final accuracy | final macro-F1 | final eval loss | uplink [kB] | bytes to target [kB] | accuracy at zeropad bytes | uplink airtime [s] | energy [J] | delivered | mean k |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for snr in args.snr:
            runs = {}
            for alg, (name, extra) in [*((a, (a, [])) for a in ALGORITHMS), *REFERENCES.items()]:
                scn = load_scenario(args.scenario, [f"channel.snr_db={snr}", f"workload.algorithm={name}", *extra])
                out = Path(tmp) / f"{alg}-{snr}"
                summary = run_scenario(scn, out)
                with open(out / "rounds.csv") as f:
                    rows = list(csv.DictReader(f))
                runs[alg] = (summary, rows)
            target = float(runs["fd_full"][1][-1]["eval_accuracy"]) - 0.01
            equal_bytes = runs["fd_topk_zeropad"][0]["uplink_bytes_total"]
            for alg in [*ALGORITHMS, *REFERENCES]:
                summary, rows = runs[alg]
                within = [float(r["eval_accuracy"]) for r in rows if int(r["cum_uplink_bytes"]) <= equal_bytes]
                at_equal = f"{within[-1]:.3f}" if within else "—"
                last = rows[-1]
                hit = next((int(r["cum_uplink_bytes"]) for r in rows if float(r["eval_accuracy"]) >= target), None)
                ks = [float(r["mean_k"]) for r in rows if r["mean_k"] not in ("", "nan")]
                mean_k = f"{sum(ks) / len(ks):.0f}" if ks else "—"
                print(
                    f"| {snr:g} | `{alg}` | {float(last['eval_accuracy']):.3f} | {float(last['eval_macro_f1']):.3f} | "
                    f"{float(last['eval_loss']):.3f} | {summary['uplink_bytes_total'] / 1e3:.1f} | "
                    f"{'—' if hit is None else f'{hit / 1e3:.1f}'} | {at_equal} | {summary['airtime_s_total']:.2f} | "
                    f"{summary['energy_j_total']:.2f} | {summary['delivered_total']}/{summary['rounds'] * summary['clients']} | {mean_k} |",
                    flush=True,
                )
            print(f"<!-- SNR {snr:g} dB: target accuracy {target:.3f}; {json.dumps({a: runs[a][0]['outcomes'] for a in ALGORITHMS})} -->", flush=True)


if __name__ == "__main__":
    main()

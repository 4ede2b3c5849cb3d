"""fedsoda against fedavg_lora and AdaLD (adaptive_topk) on one scenario; prints the docs/results.md table.

Every algorithm runs the same scenario file with only ``workload.algorithm``
changed: same seed, same data, same channel draws (common random numbers).
Storage is each client's ``client_storage_bytes`` from clients.csv (mean over
clients); the ratios are against fedavg_lora.

    python benchmarks/compare_fedsoda.py [scenarios/fedsoda_bbc.yaml] [--out runs/compare_fedsoda]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from sim.run import run_scenario
from sim.scenario import load_scenario

ALGORITHMS = ("fedsoda", "fedavg_lora", "adaptive_topk")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/fedsoda_bbc.yaml")
    ap.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--set", action="append", default=[], help="extra dotted.key=value overrides for every run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        res = {}
        for alg in ALGORITHMS:
            scn = load_scenario(args.scenario, [f"workload.algorithm={alg}", *args.set])
            summary = run_scenario(scn, root / alg, force=True)
            res[alg] = (summary, _rows(root / alg / "rounds.csv"), _rows(root / alg / "clients.csv"))
            print(f"<!-- {alg}: wall {summary['wall_time_s']:.0f} s, outcomes {summary['outcomes']} -->", flush=True)
    base_up = res["fedavg_lora"][0]["uplink_bytes_total"]
    base_store = _mean_storage(res["fedavg_lora"][2])
    print("| algorithm | uplink [kB] | uplink / fedavg_lora | downlink round 0 [MB] | downlink later rounds [kB] | client storage [MB] | storage / fedavg_lora | final accuracy | final macro-F1 | final eval loss | uplink airtime [s] | delivered |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for alg in ALGORITHMS:
        summary, rounds, _clients = res[alg]
        store = _mean_storage(_clients)
        last = rounds[-1]
        later = sum(int(r["downlink_bytes"]) for r in rounds[1:])
        print(
            f"| `{alg}` | {summary['uplink_bytes_total'] / 1e3:.1f} | {summary['uplink_bytes_total'] / base_up:.3f} | "
            f"{int(rounds[0]['downlink_bytes']) / 1e6:.2f} | {later / 1e3:.1f} | {store / 1e6:.1f} | {store / base_store:.3f} | "
            f"{float(last['eval_accuracy']):.3f} | {float(last['eval_macro_f1']):.3f} | {float(last['eval_loss']):.3f} | "
            f"{summary['airtime_s_total']:.2f} | {summary['delivered_total']}/{summary['rounds'] * summary['clients']} |"
        )
    sub = [r.get("eval_sub_accuracy", "") for r in res["fedsoda"][1]]
    acc = {a: [r["eval_accuracy"] for r in res[a][1]] for a in ALGORITHMS}
    print(f"<!-- eval_accuracy per round: {acc}; fedsoda sub-LLM: {sub} -->")


def _mean_storage(clients: list[dict[str, str]]) -> float:
    values = [int(r["client_storage_bytes"]) for r in clients if r["client_storage_bytes"]]
    return sum(values) / len(values) if values else float("nan")


if __name__ == "__main__":
    main()

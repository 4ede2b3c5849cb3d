"""FedSODA's neighbours (fedbiot, flexlora) beside fedsoda, fedavg_lora and the bounds, paired over seeds.

Every row runs the same scenario with ``workload.algorithm`` set; the same
seed gives every row the same channel draws, and every FedLM-based row
(fedavg_lora, flexlora, fedbiot, local_only, centralised) the same data split
and base.  Figures are means over seeds with 95 % t intervals
(``compare_algorithms.ci``); differences against local_only and against
fedavg_lora are paired by seed.  Columns: final accuracy, the paired
differences, uplink and downlink bytes per run (mean over seeds), each
client's ``client_storage_bytes`` (mean over clients and seeds), delivered
uploads, and for flexlora the mean rank its clients chose (``eval_mean_rank``).

    python benchmarks/compare_neighbours.py [scenario] [--seeds 31 32 33] [--set KEY=VALUE ...] [--json FILE]

A ``--set workload.KEY=...`` of one algorithm's own key (``sgp_emulator_layers``
is fedsoda's) goes to the rows whose algorithm takes it; every other override
goes to every row.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.compare_algorithms import ci, final_accuracy, sets_for
from sim.run import run_scenario
from sim.config.scenario import load_scenario

ROWS = ("local_only", "centralised", "fedavg_lora", "flexlora", "fedbiot", "fedsoda")
HEADER = (
    "| algorithm | final accuracy [95% CI] | Δ vs local_only, paired [95% CI] | Δ vs fedavg_lora, paired [95% CI] "
    "| uplink [kB] | downlink [kB] | client storage [kB] | delivered | flexlora mean rank |"
)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/compare_tiny.yaml")
    ap.add_argument("--seeds", type=int, nargs="+", default=[31, 32, 33])
    ap.add_argument("--algorithms", nargs="+", default=list(ROWS), choices=ROWS)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's summary, rounds and clients here")
    args = ap.parse_args()
    names = list(dict.fromkeys(["local_only", "fedavg_lora", *args.algorithms]))
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name in names:
                out = Path(tmp) / f"{name}-{seed}"
                t0 = time.perf_counter()
                summary = run_scenario(load_scenario(args.scenario, [*sets_for(name, args.set), f"seed={seed}", f"workload.algorithm={name}"]),
                                       out, report=False)
                clients = _csv(out / "clients.csv")
                runs[name].append({"summary": summary, "rounds": _csv(out / "rounds.csv"), "clients": clients})
                print(f"<!-- {name} seed {seed}: {time.perf_counter() - t0:.0f} s, final accuracy "
                      f"{final_accuracy(runs[name][-1]['rounds']):.3f} -->", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(runs, indent=1, sort_keys=True))
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|")
    for name in args.algorithms:
        acc = [final_accuracy(r["rounds"]) for r in runs[name]]
        d_low = [a - final_accuracy(lo["rounds"]) for a, lo in zip(acc, runs["local_only"])]
        d_avg = [a - final_accuracy(av["rounds"]) for a, av in zip(acc, runs["fedavg_lora"])]
        up = [r["summary"]["uplink_bytes_total"] / 1e3 for r in runs[name]]
        down = [r["summary"]["downlink_bytes_total"] / 1e3 for r in runs[name]]
        storage = [int(c["client_storage_bytes"]) / 1e3 for r in runs[name] for c in r["clients"] if c["client_storage_bytes"]]
        delivered = sum(r["summary"]["delivered_total"] for r in runs[name])
        possible = sum(r["summary"]["rounds"] * r["summary"]["clients"] for r in runs[name])
        ranks = ""
        if name == "flexlora":
            ranks = ci([float([x for x in r["rounds"] if x.get("eval_mean_rank")][-1]["eval_mean_rank"]) for r in runs[name]], digits=2)
        print(
            f"| `{name}` | {ci(acc)} | {'—' if name == 'local_only' else ci(d_low, 100, 1)} | "
            f"{'—' if name == 'fedavg_lora' else ci(d_avg, 100, 1)} | {statistics.fmean(up):.1f} | "
            f"{statistics.fmean(down):.1f} | {statistics.fmean(storage) if storage else 0:.1f} | {delivered}/{possible} | {ranks} |"
        )
    print(f"<!-- {time.perf_counter() - started:.0f} s for all runs -->")


if __name__ == "__main__":
    main()

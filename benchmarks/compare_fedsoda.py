"""fedsoda against fedavg_lora and AdaLD (adaptive_topk) on one scenario; prints the docs/results.md table.

Every row runs the same scenario file with ``workload.algorithm`` set (and a
variant's own overrides): same seed, same data, same channel draws (common
random numbers).  Storage is each client's ``client_storage_bytes`` from
clients.csv (mean over clients); ratios are against fedavg_lora.  With
``--reuse`` a run folder under ``--out`` is read instead of rerun when its
``scenario.resolved.yaml`` is what this script would run, fedsoda's own keys
aside for the other algorithms (they never read them).

    python benchmarks/compare_fedsoda.py [scenarios/fedsoda_bbc.yaml] [--out runs/compare_fedsoda] \
        [--variant fedsoda-no-oda=fedsoda:workload.oda_init_steps=0,workload.oda_steps=0] [--reuse]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

from sim.run import run_scenario
from sim.config.scenario import load_scenario, scenario_to_yaml

# adaptive_topk codes its top-k indices enumeratively here, as in docs/results.md.
ROWS = (
    ("fedsoda", "fedsoda", []), ("fedavg_lora", "fedavg_lora", []),
    ("adaptive_topk", "adaptive_topk", ["workload.index_coding=entropy"]),
)
_FEDSODA_KEYS = ("adapter_layers", "sgp_", "oda_", "quant")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["workload"]["algorithm"] == "fedsoda":
        return doc
    work = {k: v for k, v in doc["workload"].items() if not k.startswith(_FEDSODA_KEYS)}
    return {**doc, "workload": work}


def _variant(text: str) -> tuple[str, str, list[str]]:
    name, _, rest = text.partition("=")
    alg, _, sets = rest.partition(":")
    if not name or not alg:
        raise SystemExit(f"--variant wants NAME=ALGORITHM[:key=value,...], got {text!r}")
    return name, alg, [s for s in sets.split(",") if s]


def _mean_storage(clients: list[dict[str, str]]) -> float:
    values = [int(r["client_storage_bytes"]) for r in clients if r["client_storage_bytes"]]
    return sum(values) / len(values) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/fedsoda_bbc.yaml")
    ap.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--variant", action="append", default=[], help="an extra row NAME=ALGORITHM[:key=value,...]")
    ap.add_argument("--reuse", action="store_true", help="read a run folder of the same resolved scenario instead of rerunning")
    args = ap.parse_args()
    rows = [*ROWS, *(_variant(v) for v in args.variant)]
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        for name, alg, sets in rows:
            scn = load_scenario(args.scenario, [f"workload.algorithm={alg}", *sets])
            folder = root / name
            saved = folder / "scenario.resolved.yaml"
            same = saved.is_file() and (folder / "summary.json").is_file() and _comparable(
                yaml.safe_load(saved.read_text())
            ) == _comparable(yaml.safe_load(scenario_to_yaml(scn)))
            if not (args.reuse and same):
                run_scenario(scn, folder, force=True)
            summary = json.loads((folder / "summary.json").read_text())
            res[name] = (summary, _rows(folder / "rounds.csv"), _rows(folder / "clients.csv"))
            print(f"<!-- {name}: wall {summary['wall_time_s']:.0f} s, outcomes {summary['outcomes']} -->", flush=True)
    base_up = res["fedavg_lora"][0]["uplink_bytes_total"]
    base_store = _mean_storage(res["fedavg_lora"][2])
    print(
        "| run | uplink [MB] | uplink / fedavg_lora | downlink round 0 [MB] | downlink rounds 1+ [MB] | client storage [MB] "
        "| storage / fedavg_lora | accuracy per round | final macro-F1 | final eval loss | uplink airtime [s] | delivered |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, _alg, _sets in rows:
        summary, rounds, clients = res[name]
        store = _mean_storage(clients)
        last = rounds[-1]
        later = sum(int(r["downlink_bytes"]) for r in rounds[1:])
        accs = " / ".join(f"{float(r['eval_accuracy']):.3f}" for r in rounds)
        print(
            f"| `{name}` | {summary['uplink_bytes_total'] / 1e6:.2f} | {summary['uplink_bytes_total'] / base_up:.3f} | "
            f"{int(rounds[0]['downlink_bytes']) / 1e6:.2f} | {later / 1e6:.2f} | {store / 1e6:.1f} | {store / base_store:.3f} | "
            f"{accs} | {float(last['eval_macro_f1']):.3f} | {float(last['eval_loss']):.3f} | "
            f"{summary['airtime_s_total']:.2f} | {summary['delivered_total']}/{summary['rounds'] * summary['clients']} |"
        )
    for name, alg, _sets in rows:
        if alg == "fedsoda":
            sub = " / ".join(f"{float(r['eval_sub_accuracy']):.3f}" for r in res[name][1])
            print(f"<!-- {name}: sub-LLM accuracy per round {sub} -->")


if __name__ == "__main__":
    main()

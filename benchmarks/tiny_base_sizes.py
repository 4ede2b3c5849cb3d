"""Sizes of the pretrained tiny base against what the testbed learns: the docs/results.md size table.

For each size: pretrain the base (or read it from the cache; its pretraining
wall time is read from the cache's meta.json), then run ``centralised`` and
``local_only`` on the same seed (10 clients, Dirichlet alpha 0.1 by default)
and print one Markdown row: hidden, layers, vocabulary, text tokens,
pretraining steps, final accuracies, the gap, wall times.

    python benchmarks/tiny_base_sizes.py [scenario] --size H,L,V,T,STEPS [--size ...] [--seed 31] [--set KEY=VALUE]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

from sim.run import run_scenario
from sim.config.scenario import load_scenario
from workloads.cache import cache_items

HEADER = ("| hidden | layers | vocab | text tokens | base steps | base final loss | pretraining [s] | centralised | "
          "local_only | gap [points] | run wall centralised / local_only [s] |")


def final_accuracy(out: Path) -> float:
    with open(out / "rounds.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("eval_accuracy")]
    return float(rows[-1]["eval_accuracy"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/compare_tiny.yaml")
    ap.add_argument("--size", action="append", required=True, metavar="H,L,V,T,STEPS")
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.size:
            h, layers, v, t, steps = (int(x) for x in size.split(","))
            over = [*args.set, f"seed={args.seed}", f"workload.hidden_size={h}", f"workload.layers={layers}",
                    f"workload.vocab_size={v}", f"workload.text_tokens={t}", f"workload.base_steps={steps}",
                    f"workload.heads={max(1, h // 32)}", "workload.families=[llama]"]
            before = {i.name for i in cache_items()}
            acc, wall = {}, {}
            for algo in ("centralised", "local_only"):
                out = Path(tmp) / f"{size}-{algo}"
                started = time.perf_counter()
                run_scenario(load_scenario(args.scenario, [*over, f"workload.algorithm={algo}"]), out)
                wall[algo] = time.perf_counter() - started
                acc[algo] = final_accuracy(out)
            new = [i for i in cache_items() if i.name.startswith("tiny-bases/") and i.name not in before]
            meta = json.loads((new[0].path / "meta.json").read_text()) if new else {}
            pre = f"{meta['wall_s']:.0f}" if meta else "cached"
            loss = f"{meta['final_loss']:.2f}" if meta else "—"
            print(f"| {h} | {layers} | {v} | {t} | {steps} | {loss} | {pre} | {acc['centralised']:.3f} | "
                  f"{acc['local_only']:.3f} | {100 * (acc['centralised'] - acc['local_only']):.1f} | "
                  f"{wall['centralised']:.0f} / {wall['local_only']:.0f} |", flush=True)


if __name__ == "__main__":
    main()

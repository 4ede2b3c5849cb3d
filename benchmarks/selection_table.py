"""The selection table of docs/results.md from a finished sweep folder.

    fedwave sweep scenarios/selection.yaml --out runs/selection
    python benchmarks/selection_table.py runs/selection

One row per point: policy, M, uploads delivered, delivered bytes, client energy, delivered bytes
per joule, Jain's fairness index of participation and of delivered bytes, and (learning runs)
the final accuracy and accuracy per uplink MB.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.participation_report import participation_stats
from sim.run_report import load_run


def main(folder: str) -> None:
    rows = []
    for run in sorted((Path(folder) / "runs").iterdir()):
        if not (run / "summary.json").is_file():
            continue
        point = json.loads((run / "point.json").read_text())
        data = load_run(run)
        st = participation_stats(data.result(), data.scn.clients.count)
        s = data.summary
        acc = s["final_metrics"].get("eval_accuracy")
        delivered_mb = st["delivered_bytes"].sum() / 1e6
        rows.append((
            point.get("params", point).get("clients.selection", data.scn.clients.selection),
            data.scn.clients.per_round, data.scn.seed, s["delivered_total"], delivered_mb, s["energy_j_total"],
            delivered_mb / s["energy_j_total"], st["jain_participation"], st["jain_delivered_bytes"], acc,
            None if acc is None else acc / (s["uplink_bytes_total"] / 1e6),
        ))
    rows.sort(key=lambda r: (str(r[1]), r[0], r[2]))
    print("| policy | M | seed | uploads delivered | delivered MB | energy J | delivered MB/J | Jain participation "
          "| Jain delivered bytes | accuracy | accuracy per uplink MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        acc = "" if r[9] is None else f"{r[9]:.3f}"
        per = "" if r[10] is None else f"{r[10]:.4f}"
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.1f} | {r[5]:.0f} | {r[6]:.4f} | {r[7]:.3f} | {r[8]:.3f} "
              f"| {acc} | {per} |")


if __name__ == "__main__":
    main(sys.argv[1])

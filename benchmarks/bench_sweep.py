"""Sweep throughput: the same 8 network-only points on 1 worker, then on 2, side by side.

Each point is a whole ``run_scenario`` (set-up, SimPy run, CSV records) of
2000 clients x 20 rounds with Rayleigh fading and ARQ, at its own SNR; the
timing covers ``run_sweep`` from plan to results.parquet, worker start-up
included (reports are left out: they are not what the pool parallelises).
The two settings alternate ``--repeat`` times and the fastest of each is
compared, so a burst of other load on the machine hits both alike; the load
average is printed beside the figures.

    python benchmarks/bench_sweep.py [--clients 2000] [--rounds 20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sim.config.scenario import Scenario
from sim.sweep.runner import run_sweep


def scenario(clients: int, rounds: int) -> Scenario:
    return Scenario.model_validate(
        {
            "seed": 1,
            "rounds": rounds,
            "clients": {"count": clients, "placement": {"kind": "uniform_disc", "radius_m": 150}},
            "cell": {"bandwidth_mhz": 100},
            "channel": {"fading": {"model": "rayleigh"}},
            "medium": {"uplink_sharing": "ofdma", "packet_error_rate": 0.05},
            "round": {"deadline_s": 10.0},
            "workload": {"algorithm": "none", "payload_bits": 200_000, "downlink_bits": 200_000},
            "sweep": {"grid": {"channel.snr_db": [0, 4, 8, 12, 16, 20, 24, 28]}},
        }
    )


def timed(scn: Scenario, workers: int) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        outcome = run_sweep(scn, Path(d), workers=workers)
        wall = time.perf_counter() - t
        if outcome.failed or outcome.ran != 8:
            raise SystemExit(f"sweep on {workers} worker(s) ran {outcome.ran} points, {outcome.failed} failed")
        return wall, (Path(d) / "results.csv").read_text()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    scn = scenario(args.clients, args.rounds)
    load_before = os.getloadavg()[0]
    walls: dict[int, list[float]] = {1: [], 2: []}
    texts = set()
    for _ in range(args.repeat):
        for workers in (1, 2):
            wall, text = timed(scn, workers)
            walls[workers].append(wall)
            texts.add(text)
    if len(texts) != 1:
        raise SystemExit("results.csv differs between runs")
    print(f"8 points, {args.clients} clients x {args.rounds} rounds each, {os.cpu_count()} cores, "
          f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"{'workers':>8} {'best [s]':>9}  all [s]")
    for workers, values in walls.items():
        print(f"{workers:>8} {min(values):>9.2f}  {' '.join(f'{v:.2f}' for v in values)}")
    print(f"speed-up with 2 workers: {min(walls[1]) / min(walls[2]):.2f}x (identical results.csv)")


if __name__ == "__main__":
    main()

"""Engine throughput: network-only runs, microseconds per simulated client-round.

1,000 clients x 100 rounds with Rayleigh block fading, shadowing, ARQ at a 5%
packet error rate and 200 kbit each way over 100 MHz, for each sharing policy;
then 100 and 10,000 clients with the default policy (same rounds/10 for
both ends of the comparison) to check that time grows linearly with clients.
Each figure is the whole `run_scenario` (set-up, SimPy run, CSV records), what
a user waits for.

    python benchmarks/bench_engine.py [--rounds 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.run import run_scenario
from sim.scenario import Scenario


def scenario(clients: int, rounds: int, sharing: str) -> Scenario:
    return Scenario.model_validate(
        {
            "seed": 1,
            "rounds": rounds,
            "clients": {"count": clients, "placement": {"kind": "uniform_disc", "radius_m": 150}},
            "cell": {"bandwidth_mhz": 100},
            "channel": {"fading": {"model": "rayleigh"}, "shadowing": True},
            "medium": {"uplink_sharing": sharing, "downlink_sharing": sharing, "packet_error_rate": 0.05},
            "round": {"deadline_s": 10.0},
            "workload": {"algorithm": "none", "payload_bits": 200_000, "downlink_bits": 200_000},
        }
    )


def timed(clients: int, rounds: int, sharing: str) -> float:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        run_scenario(scenario(clients, rounds, sharing), Path(d) / "run")
        return time.perf_counter() - t


def row(clients: int, rounds: int, sharing: str, wall: float) -> None:
    print(f"{clients:>8} {rounds:>6} {sharing:>12} {wall:>9.3f} {wall / (clients * rounds) * 1e6:>16.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    timed(50, 2, "fdma_static")  # warm imports and caches
    print(f"{'clients':>8} {'rounds':>6} {'sharing':>12} {'wall [s]':>9} {'us/client-round':>16}")
    for sharing in ("fdma_static", "tdma", "ofdma", "proportional_fair"):
        row(1000, args.rounds, sharing, timed(1000, args.rounds, sharing))
    short = max(1, args.rounds // 10)
    walls = {n: timed(n, short, "fdma_static") for n in (100, 1000, 10_000)}
    for n, wall in walls.items():
        row(n, short, "fdma_static", wall)
    print(f"scaling 100 -> 1,000 clients: x{walls[1000] / walls[100]:.2f} time for x10 clients")
    print(f"scaling 1,000 -> 10,000 clients: x{walls[10_000] / walls[1000]:.2f} time for x10 clients")


if __name__ == "__main__":
    main()

"""One round's fluid walks (sim.core.fluid) in each form, against the array form timed in the same run.

Records the inputs of the uplink and downlink walks of a round of the
bench_engine scenario (1,000 clients, ofdma both ways, 100 MHz), then times
``fluid_transfers`` on them: the walk as a run takes it (lists for a few
active transfers, virtual time where rates are a full-band rate over n) and
the array form throughout (``LIST_MAX = 0``, virtual time off), each the
fastest of ``--repeat``.  Also counts the events (starts and completions)
and, for proportional_fair, the Newton passes per split.

    python benchmarks/bench_fluid.py [--clients 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import workloads  # noqa: E402
from bench_engine import scenario_dict  # noqa: E402
from sim.config.scenario import Scenario  # noqa: E402
from sim.core import fastround, fluid  # noqa: E402
from sim.core.engine import Engine  # noqa: E402


def recorded_walks(clients: int, sharing: str) -> list[tuple]:
    """(medium, clients, start_s, bits, limit_s, snr_linear) of each walk of round 0."""
    calls = []
    walk = fluid.fluid_transfers

    def record(medium, who, start_s, bits, limit_s):
        calls.append((medium, who.copy(), start_s.copy(), bits.copy(), limit_s, medium.snr_linear.copy()))
        return walk(medium, who, start_s, bits, limit_s)

    fastround.fluid_transfers = record
    try:
        scn = Scenario.model_validate(scenario_dict(clients, 1, sharing))
        Engine(scn, workloads.create("none", scn.workload, clients, scn.seed)).run()
    finally:
        fastround.fluid_transfers = walk
    return calls


def timed(call: tuple, repeat: int, arrays_only: bool) -> float:
    medium, who, start_s, bits, limit_s, snr = call
    medium.snr_linear = snr
    list_max, regime = fluid.LIST_MAX, getattr(medium, "linear", False)
    if arrays_only:  # no lists, and neither form of virtual time (linear in the share, a capped uplink)
        fluid.LIST_MAX = 0
        medium.linear = False
        medium.capped_regime = lambda: None
    try:
        best = np.inf
        for _ in range(repeat):
            t = time.perf_counter()
            fluid.fluid_transfers(medium, who, start_s, bits, limit_s)
            best = min(best, time.perf_counter() - t)
        return best
    finally:
        fluid.LIST_MAX = list_max
        if arrays_only:
            medium.linear = regime
            del medium.capped_regime  # the class's method again


def newton_passes(clients: int) -> Counter:
    """Newton passes per proportional-fair split over one round (pf_phi is evaluated once a pass)."""
    import channels.proportional_fair as pf

    passes: Counter = Counter()
    phi, shares = pf.pf_phi, pf.pf_shares
    count = [0]

    def counted_phi(x):
        count[0] += 1
        return phi(x)

    def counted_shares(*args):
        count[0] = 0
        out = shares(*args)
        passes[count[0]] += 1
        return out

    pf.pf_phi = counted_phi
    import sim.core.processor_sharing as ps

    ps.pf_shares = counted_shares
    try:
        scn = Scenario.model_validate(scenario_dict(clients, 1, "proportional_fair"))
        Engine(scn, workloads.create("none", scn.workload, clients, scn.seed)).run()
    finally:
        pf.pf_phi, ps.pf_shares = phi, shares
    return passes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'walk':<10} {'events':>7} {'as run [ms]':>12} {'arrays [ms]':>12} {'us/event':>9} {'x arrays':>9}")
    for call in recorded_walks(args.clients, "ofdma"):
        medium, who, start_s = call[0], call[1], call[2]
        name = "uplink" if medium.power_concentration else "downlink"
        events = len(np.unique(start_s)) + who.shape[0]  # admissions and (at most) one completion each
        fast, arrays = timed(call, args.repeat, False), timed(call, args.repeat, True)
        print(f"{name:<10} {events:>7} {fast * 1e3:>12.2f} {arrays * 1e3:>12.2f} {fast / events * 1e6:>9.2f} "
              f"{fast / arrays:>9.3f}")
    passes = newton_passes(args.clients)
    total = sum(passes.values())
    mean = sum(k * v for k, v in passes.items()) / max(total, 1)
    print(f"\nproportional_fair, one round: {total} splits, {mean:.2f} Newton passes on average "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(passes.items()))})")


if __name__ == "__main__":
    main()

"""Deadline-miss probability against payload size, slow and fast fading, with the two closed-form limits.

One round, N clients on fdma_static (each owns B/N, its power concentrated
there: mean share SNR rho = 10 dB), Rayleigh fading, a 2 s deadline and no
compute, so a payload of L bits needs the rate R = L / 2 s on its share b:

- slow fading (f_d = 0.01 Hz, T_c = 42 s): one fade per transfer, so the miss
  probability is the outage 1 - exp(-(2^(R/b) - 1) / rho);
- fast fading (f_d = 175 Hz, T_c = 2.4 ms, ~830 blocks per transfer): the
  rate averages to the ergodic capacity b e^(1/rho) E1(1/rho) / ln 2, so the
  miss probability steps from 0 to 1 there;
- in between (f_d = 5 Hz, T_c = 85 ms, ~24 blocks): the crossover.

    PYTHONPATH=$PWD python benchmarks/fading_deadline_miss.py --out docs/fading_deadline_miss.png
"""

from __future__ import annotations

import argparse
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import special  # noqa: E402

import workloads  # noqa: E402
from sim.core.engine import Engine  # noqa: E402
from sim.config.scenario import Scenario  # noqa: E402

N, BW_HZ, RHO, DEADLINE_S = 1000, 20e6, 10.0, 2.0
SHARE_HZ = BW_HZ / N


def miss(payload_bits: int, doppler_hz: float) -> float:
    scn = Scenario.model_validate(
        {
            "seed": 4,
            "rounds": 1,
            "clients": {"count": N, "placement": {"kind": "fixed", "distances_m": [10.0] * N}},
            "cell": {"bandwidth_mhz": BW_HZ / 1e6},
            "channel": {
                "snr_db": 10 * math.log10(RHO / N),
                "fading": {"model": "rayleigh", "doppler_hz": doppler_hz},
                "rate": {"max_se_bps_hz": None},
            },
            # Fluid shares of B/N (narrower than one PRB): the closed forms drawn beside are worked on them.
            "medium": {"uplink_sharing": "fdma_static", "min_allocation": "none"},
            "round": {"deadline_s": DEADLINE_S},
            "workload": {"algorithm": "none", "payload_bits": payload_bits, "downlink_bits": 0, "work_flop": 0},
        }
    )
    res = Engine(scn, workloads.create("none", scn.workload, N, scn.seed)).run()
    return float(np.mean(res.client_column("outcome") != "delivered"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/fading_deadline_miss.png")
    args = ap.parse_args()
    ergodic = SHARE_HZ * math.exp(1 / RHO) * special.exp1(1 / RHO) / math.log(2)
    fractions = np.linspace(0.2, 1.4, 13)
    payloads = (fractions * ergodic * DEADLINE_S * (1 - 1e-6)).astype(int)
    fine = np.linspace(0.15, 1.45, 300)
    outage = 1 - np.exp(-(2 ** (fine * ergodic / SHARE_HZ) - 1) / RHO)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(fine * ergodic * DEADLINE_S / 1e3, outage, "k-", lw=1, label="closed form: outage (quasi-static)")
    ax.plot(fine * ergodic * DEADLINE_S / 1e3, (fine > 1).astype(float), "k--", lw=1, label="closed form: ergodic rate")
    print(f"ergodic rate {ergodic:.1f} bit/s on a {SHARE_HZ:.0f} Hz share; payload at it {ergodic * DEADLINE_S:.0f} bit")
    print("payload_bits  " + "  ".join(f"f_d={f:g}Hz" for f in (0.01, 5.0, 175.0)))
    curves = {f: [miss(int(p), f) for p in payloads] for f in (0.01, 5.0, 175.0)}
    for i, p in enumerate(payloads):
        print(f"{p:12d}  " + "  ".join(f"{curves[f][i]:9.3f}" for f in curves))
    for f, marker, label in ((0.01, "o", "slow, f_d = 0.01 Hz"), (5.0, "s", "f_d = 5 Hz (T_c 85 ms)"), (175.0, "^", "fast, f_d = 175 Hz")):
        ax.plot(payloads / 1e3, curves[f], marker, ms=5, label=f"fedwave, {label}")
    ax.set_xlabel("payload per client [kbit] (2 s deadline, share SNR 10 dB)")
    ax.set_ylabel("deadline-miss probability")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

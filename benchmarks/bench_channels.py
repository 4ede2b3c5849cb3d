"""Channel throughput: client-states per second, 10,000 clients per draw.

One "client-state" is one client's uplink and downlink LinkState (SNR, rate,
BLER, latency) at one instant.  Each draw, timed in full:

- closed form, shannon: fresh fading normals, AR(1) Rayleigh at 10 Hz Doppler,
  mean SNR from UMi path loss, Shannon rate (``Channel.states``);
- closed form, nr_mcs: the same with the nr_mcs rate model (Sionna's link
  adaptation looked up in numpy);
- Sionna, nr_mcs: the same fading, then Sionna's InnerLoopLinkAdaptation and
  PHYAbstraction called on the 10,000 SINRs (PUSCH up, PDSCH down), as the
  closed-form lookup replaces.

And the large-scale step (once per run, or per round with mobility): TR 38.901
UMi path loss and LOS probability for 10,000 clients, numpy vs Sionna's
UMiScenario.set_topology (which also draws its large-scale parameters).

    python benchmarks/bench_channels.py [--clients 10000] [--draws 50]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from channels import Channel, Fading, ShannonRate
from channels.nr_mcs import NrMcsRate
from channels.tr38901 import tr38901_los_probability, tr38901_pathloss_db


def per_second(fn: Callable[[int], object], draws: int, clients: int) -> float:
    fn(0)  # warm-up (first-call allocations, torch kernels)
    t0 = time.perf_counter()
    for k in range(1, draws + 1):
        fn(k)
    return draws * clients / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=10_000)
    ap.add_argument("--draws", type=int, default=50)
    args = ap.parse_args()
    n, draws = args.clients, args.draws
    rng = np.random.default_rng(0)
    d2d = 10 + 240 * np.sqrt(rng.random(n))
    los = rng.random(n) < tr38901_los_probability("umi", d2d)
    pl = tr38901_pathloss_db("umi", d2d, los, 3.5e9, 10.0, 1.5)
    snr_ul = 23 - pl + 174 - 10 * np.log10(20e6) - 7
    snr_dl = 43 - pl + 174 - 10 * np.log10(20e6) - 7
    d3 = np.hypot(d2d, 8.5)

    def channel(rate_ul: object, rate_dl: object) -> Channel:
        fading = Fading("rayleigh", n, doppler_hz=10.0)
        return Channel(snr_ul, snr_dl, fading, rate_ul, 20e6, 20e6, d3, 0.0, rate_dl)  # type: ignore[arg-type]

    shannon = channel(ShannonRate(), None)
    t0 = time.perf_counter()
    mcs_ul, mcs_dl = NrMcsRate.from_sionna("uplink"), NrMcsRate.from_sionna("downlink")
    table_s = time.perf_counter() - t0
    nr = channel(mcs_ul, mcs_dl)

    import torch
    from sionna.sys import InnerLoopLinkAdaptation, PHYAbstraction

    torch.set_grad_enabled(False)
    phy = PHYAbstraction()
    illa = InnerLoopLinkAdaptation(phy, bler_target=0.1)
    re = torch.full((n,), 1728, dtype=torch.int32)
    fading = Fading("rayleigh", n, doppler_hz=10.0)

    def sionna_draw(k: int) -> object:
        g_db = 10 * np.log10(np.maximum(fading.gain(0.01 * k, rng.standard_normal((n, 2))), 1e-30))
        out = []
        for mean_db, category in ((snr_ul, 0), (snr_dl, 1)):
            sinr = torch.from_numpy(10 ** ((mean_db + g_db) / 10)).to(torch.float32)
            mcs = illa(sinr_eff=sinr, num_allocated_re=re, mcs_category=category)
            out.append(phy(mcs, sinr_eff=sinr, num_allocated_re=re, mcs_category=category))
        return out

    rows = [
        ("closed form, shannon", per_second(lambda k: shannon.states(0.01 * k, rng.standard_normal((n, 2))), draws, n)),
        ("closed form, nr_mcs", per_second(lambda k: nr.states(0.01 * k, rng.standard_normal((n, 2))), draws, n)),
        ("Sionna, nr_mcs", per_second(sionna_draw, max(draws // 5, 2), n)),
    ]

    from sionna.phy.channel.tr38901 import PanelArray, UMiScenario

    arr = PanelArray(
        num_rows_per_panel=1, num_cols_per_panel=1, polarization="single", polarization_type="V",
        antenna_pattern="omni", carrier_frequency=3.5e9,
    )  # fmt: skip
    umi = UMiScenario(3.5e9, "low", arr, arr, "uplink")
    ut = torch.zeros(1, n, 3, dtype=torch.float32)
    ut[0, :, 0] = torch.from_numpy(d2d)
    ut[0, :, 2] = 1.5

    def sionna_pl(_k: int) -> object:
        umi.set_topology(
            ut_loc=ut, bs_loc=torch.tensor([[[0.0, 0.0, 10.0]]]), ut_orientations=torch.zeros(1, n, 3),
            bs_orientations=torch.zeros(1, 1, 3), ut_velocities=torch.zeros(1, n, 3),
            in_state=torch.zeros(1, n, dtype=torch.bool), los="random",
        )  # fmt: skip
        return umi.basic_pathloss

    def numpy_pl(_k: int) -> object:
        p_los = tr38901_los_probability("umi", d2d)
        return tr38901_pathloss_db("umi", d2d, rng.random(n) < p_los, 3.5e9, 10.0, 1.5)

    rows += [
        ("TR 38.901 UMi loss + LOS, numpy", per_second(numpy_pl, draws, n)),
        ("TR 38.901 UMi loss + LOS, Sionna", per_second(sionna_pl, max(draws // 10, 2), n)),
    ]
    print(f"{n} clients per draw, torch threads {torch.get_num_threads()}")
    print(f"nr_mcs table from Sionna (once per process, torch and Sionna import included): {table_s:.2f} s")
    print(f"{'path':36s} {'client-states/s':>16s}")
    for name, rate in rows:
        print(f"{name:36s} {rate:16,.0f}")


if __name__ == "__main__":
    main()

"""Open-loop power control through a whole round: powers, rates, airtime and energy by hand."""

import math

import numpy as np
import pytest

import workloads
from channels.pathloss import free_space_db
from sim.core.engine import Engine
from sim.config.scenario import ScenarioError, load_scenario
from tests.conftest import scenario

DISTANCES_M = [50.0, 400.0, 30000.0]
CFG = {
    "seed": 2,
    "rounds": 1,
    "clients": {
        "count": 3,
        "placement": {"kind": "fixed", "distances_m": DISTANCES_M},
        "height_m": 10.0,
        "tx_power_dbm": 23.0,
        "power_control": "open_loop",
        "pc_p0_dbm": -100.0,
        "pc_alpha": 1.0,
        "device": {"flops_per_s": 1e12, "speed_sigma": 0.0, "compute_power_w": 0.0},
    },
    "cell": {"carrier_ghz": 2.0, "bandwidth_mhz": 1.8, "bs_height_m": 10.0, "noise_figure_db": 5.0},
    "channel": {"pathloss": {"model": "free_space"}, "fading": {"model": "none"}},
    "medium": {"uplink_sharing": "fdma_static", "packet_error_rate": 0.0},
    "round": {"deadline_s": 100.0},
    "workload": {"algorithm": "none", "payload_bits": 600_000, "downlink_bits": 0, "work_flop": 0.0},
}


def run(cfg):
    scn = scenario(**cfg)
    return Engine(scn, workloads.create("none", scn.workload, scn.clients.count, scn.seed)).run()


def test_full_compensation_gives_every_uncapped_client_the_target_snr():
    # Prepare, by hand: each of 3 clients holds 600 kHz = 3.33 RBs; P = min(23, -100 + 5.23 + PL).
    pl = np.array([free_space_db(d, 2e9) for d in DISTANCES_M])  # 72.4, 90.5, 128.0 dB
    power = np.minimum(23.0, -100.0 + 10 * math.log10(600e3 / 180e3) + pl)
    assert power[2] == 23.0 > power[1]  # the far client is capped, the others are not
    noise_share_dbm = -174 + 10 * math.log10(600e3) + 5.0
    snr_share = 10 ** ((power - pl - noise_share_dbm) / 10)
    rate = 600e3 * np.minimum(np.log2(1 + snr_share), 8 * 948 / 1024)
    # Execute
    res = run(CFG)
    # Assert: powers, then airtime = payload / rate, then energy = P x airtime
    assert res.client_column("tx_power_dbm").tolist() == pytest.approx(power.tolist())
    # Uncapped: received power -100 dBm per 180 kHz, SNR = -100 - (-174 + 52.55 + 5) = 16.45 dB for both.
    assert 10 * np.log10(snr_share[:2]) == pytest.approx([16.447, 16.447], abs=1e-3)
    airtime = res.client_column("airtime_s")
    assert airtime.tolist() == pytest.approx((600_000 / rate).tolist(), rel=1e-9)
    assert res.client_column("energy_j").tolist() == pytest.approx((10 ** (power / 10) / 1e3 * airtime).tolist())


def test_without_power_control_every_client_sends_at_the_maximum():
    res = run({**CFG, "clients": {**CFG["clients"], "power_control": "off"}})
    assert res.client_column("tx_power_dbm").tolist() == [23.0, 23.0, 23.0]


def test_tdma_grants_the_whole_band():
    res = run({**CFG, "medium": {**CFG["medium"], "uplink_sharing": "tdma"}})
    pl = free_space_db(DISTANCES_M[0], 2e9)
    assert res.client_column("tx_power_dbm")[0] == pytest.approx(-100 + 10 * math.log10(1.8e6 / 180e3) + pl)


@pytest.mark.parametrize("extra, why", [
    ("round: {mode: async}", "sync"),
    ("channel: {snr_db: 10}", "path loss from geometry"),
])
def test_power_control_needs_what_it_reads(tmp_path, extra, why):
    path = tmp_path / "s.yaml"
    path.write_text(f"clients: {{power_control: open_loop}}\n{extra}\n")
    with pytest.raises(ScenarioError, match=why):
        load_scenario(path)


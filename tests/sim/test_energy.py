"""The energy model worked by hand: PA efficiency, circuit, receive and idle power."""

import math

import numpy as np
import pytest

import workloads
from channels.pathloss import SPEED_OF_LIGHT_M_S, free_space_db
from sim.core.engine import Engine
from tests.conftest import scenario

D_M = 500.0
CFG = {
    "seed": 4,
    "rounds": 1,
    "clients": {
        "count": 2,
        "placement": {"kind": "fixed", "distances_m": [D_M, D_M]},
        "height_m": 10.0,
        "tx_power_dbm": 20.0,
        "device": {"flops_per_s": 1e12, "speed_sigma": 0.0, "compute_power_w": 3.0, "pa_efficiency": 0.25,
                   "tx_circuit_power_w": 0.5, "rx_power_w": 1.2, "idle_power_w": 0.1},
    },
    "cell": {"carrier_ghz": 2.0, "bandwidth_mhz": 1.0, "bs_height_m": 10.0, "noise_figure_db": 5.0,
             "tx_power_dbm": 20.0},
    "channel": {"pathloss": {"model": "free_space"}, "fading": {"model": "none"}},
    "medium": {"uplink_sharing": "tdma", "downlink_sharing": "fdma_static"},
    "round": {"deadline_s": 100.0},
    "workload": {"algorithm": "none", "payload_bits": 2_000_000, "downlink_bits": 1_000_000, "work_flop": 2e11},
}


def test_energy_of_two_clients_by_hand():
    # Prepare: same SNR up and down (20 dBm both ways, 1 MHz); uplink tdma on the whole band,
    # downlink fdma_static on half each. Client 1 queues behind client 0's upload.
    snr = 10 ** ((20.0 - free_space_db(D_M, 2e9) - (-174 + 60 + 5.0)) / 10)
    up_s = 2e6 / (1e6 * min(math.log2(1 + snr), 8 * 948 / 1024))
    down_s = 1e6 / (0.5e6 * min(math.log2(1 + snr), 8 * 948 / 1024))
    compute_s, lat_s = 0.2, D_M / SPEED_OF_LIGHT_M_S
    tx_w = 0.1
    # Client 0: download, its propagation, compute, upload (its part ends with the last bit sent):
    # it waits only for the download's last bit to propagate.
    e0 = 3.0 * compute_s + (tx_w / 0.25 + 0.5) * up_s + 1.2 * down_s + 0.1 * lat_s
    # Client 1 is ready at the same instant and waits one whole upload for its turn.
    e1 = e0 + 0.1 * up_s
    # Execute
    scn = scenario(**CFG)
    res = Engine(scn, workloads.create("none", scn.workload, 2, scn.seed)).run()
    # Assert
    assert res.client_column("airtime_s").tolist() == pytest.approx([up_s, up_s], rel=1e-9)
    assert res.client_column("energy_j").tolist() == pytest.approx([e0, e1], rel=1e-9)


def test_the_defaults_count_radiated_power_and_compute_only():
    dev = {"flops_per_s": 1e12, "speed_sigma": 0.0, "compute_power_w": 3.0}
    scn = scenario(**{**CFG, "clients": {**CFG["clients"], "device": dev}})
    res = Engine(scn, workloads.create("none", scn.workload, 2, scn.seed)).run()
    expected = 3.0 * 0.2 + 0.1 * res.client_column("airtime_s")
    assert res.client_column("energy_j") == pytest.approx(expected, rel=1e-12)
    assert np.all(res.client_column("downlink_airtime_s") > 0)

"""Minimum allocation of one PRB: concentration capped at B / PRB, hand-worked rates."""

import math

import numpy as np
import pytest
import simpy

from channels.rate import ShannonRate
from sim.core.medium import make_medium
from sim.run import run_scenario
from tests.conftest import scenario

BAND_HZ = 3.6e6  # ten PRBs of 360 kHz (30 kHz SCS)


def medium(sharing, prb_hz=None):
    m = make_medium(simpy.Environment(), BAND_HZ, sharing, ShannonRate(max_se_bps_hz=None), power_concentration=True)
    if prb_hz is not None:
        m.set_min_allocation(prb_hz)
    return m


@pytest.mark.parametrize("sharing", ["fdma_static", "ofdma"])
def test_twenty_clients_on_ten_prbs_concentrate_in_one_prb(sharing):
    # Prepare: full-band SNR 0.1 each. Fluid: B/20 log2(1 + 20 x 0.1) = 180 kHz x log2(3);
    # one PRB at least: the power goes into 360 kHz (SNR 10 x 0.1), half the time: 180 kHz x log2(2).
    snr = np.full(20, 0.1)
    fluid, capped = medium(sharing), medium(sharing, 360e3)
    # Execute
    r_fluid = fluid.share_rate_bps(snr, 20)
    r_capped = capped.share_rate_bps(snr, 20)
    # Assert
    assert r_fluid == pytest.approx(np.full(20, 180e3 * math.log2(3.0)))
    assert r_capped == pytest.approx(np.full(20, 180e3 * 1.0))
    capped.begin_round(snr, 20)
    assert capped.expected_rate_bps(0) == pytest.approx(180e3)


def test_fewer_sharers_than_prbs_are_not_touched():
    snr = np.full(5, 0.1)
    assert medium("fdma_static", 360e3).share_rate_bps(snr, 5) == pytest.approx(np.full(5, 720e3 * math.log2(1.5)))


def test_the_downlink_keeps_its_power_density():
    m = make_medium(simpy.Environment(), BAND_HZ, "fdma_static", ShannonRate(max_se_bps_hz=None), False)
    m.set_min_allocation(360e3)
    assert m.share_rate_bps(np.full(20, 0.1), 20) == pytest.approx(np.full(20, 180e3 * math.log2(1.1)))


@pytest.mark.parametrize("count, band_mhz, prbs, said", [
    (20, 3.6, 10, "Up to 20 clients shared 10 uplink PRBs of 360 kHz per cell"),
    (3, 0.05, 0, "The uplink band (50 kHz) is narrower than one PRB of 360 kHz and up to 3 clients shared it"),
])
def test_the_report_says_when_clients_outnumber_prbs(tmp_path, count, band_mhz, prbs, said):
    cfg = {
        "rounds": 1,
        "clients": {"count": count},
        "cell": {"bandwidth_mhz": band_mhz},
        "workload": {"algorithm": "none", "payload_bits": 1000, "downlink_bits": 1000},
    }
    summary = run_scenario(scenario(**cfg), tmp_path / "r")
    report = (tmp_path / "r" / "report.md").read_text()
    assert summary["uplink_prbs"] == prbs
    assert said in report
    assert " 0 PRBs" not in report

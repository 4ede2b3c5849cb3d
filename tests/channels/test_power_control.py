"""Open-loop PUSCH power control against TS 38.213 7.1.1 worked by hand."""

import math

import numpy as np
import pytest

from channels.power_control import link_to_power, pusch_power_dbm


def test_fractional_compensation_by_hand():
    # Prepare: 2 MHz grant = 11.11 RBs of 180 kHz; 10 log10(11.11) = 10.458 dB.
    # P = min(23, -90 + 10.458 + 0.8 PL): PL 100 -> 0.458 dBm; PL 130 -> 24.458, capped at 23.
    pl = np.array([100.0, 130.0])
    # Execute
    p = pusch_power_dbm(23.0, -90.0, 0.8, pl, 2e6)
    # Assert
    assert p.tolist() == pytest.approx([-90 + 10 * math.log10(2e6 / 180e3) + 80.0, 23.0])
    assert p[0] == pytest.approx(0.4576, abs=1e-4)


def test_full_compensation_on_two_resource_blocks():
    # alpha = 1, P0 = -100 dBm, PL 95 dB, 2 RBs (360 kHz): -100 + 3.0103 + 95 = -1.9897 dBm.
    assert pusch_power_dbm(23.0, -100.0, 1.0, np.array([95.0]), 360e3)[0] == pytest.approx(-1.9897, abs=1e-4)


def test_no_compensation_is_the_same_power_for_everyone():
    p = pusch_power_dbm(23.0, -60.0, 0.0, np.array([80.0, 120.0, 140.0]), np.array([180e3, 180e3, 1.8e6]))
    assert p.tolist() == pytest.approx([-60.0, -60.0, -50.0])


def test_the_snr_follows_the_power():
    assert link_to_power(np.array([100.0]), np.array([13.0]), 23.0)[0] == pytest.approx(10.0)


def test_alpha_outside_its_range_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        pusch_power_dbm(23.0, -90.0, 1.5, np.array([100.0]), 1e6)

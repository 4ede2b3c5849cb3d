import numpy as np
import pytest

from channels.link import thermal_noise_dbm
from channels.rate import ShannonRate


def test_shannon_rate_hand_values():
    # log2(1 + 15) = 4 bit/s/Hz over 20 MHz.
    assert ShannonRate().rate_bps(15.0, 20e6) == pytest.approx(80e6)


def test_gap_and_cap():
    gap3 = ShannonRate(gap_db=10 * np.log10(3.0))
    assert gap3.rate_bps(45.0, 1e6) == pytest.approx(4e6)  # log2(1 + 45/3) = 4
    capped = ShannonRate(max_se_bps_hz=2.0)
    np.testing.assert_allclose(capped.rate_bps(np.array([1.0, 1000.0]), 1e6), [1e6, 2e6])


def test_thermal_noise():
    # -174 dBm/Hz over 20 MHz is -100.99 dBm; plus a 7 dB noise figure.
    # 10 log10(20e6) = 73.0103: -174 + 73.0103 + 7 = -93.9897 dBm.
    assert thermal_noise_dbm(20e6, 7.0) == pytest.approx(-93.9897, abs=1e-4)
    assert thermal_noise_dbm(1.0, 0.0) == pytest.approx(-174.0)

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


def test_default_cap_is_the_highest_nr_mcs_of_ts38214_table_2():
    from channels.rate import NR_MAX_SE_BPS_HZ
    from sim.config.schema import Rate

    # TS 38.214 Table 5.1.3.1-2, MCS 27: Qm = 8, R x 1024 = 948 -> 7.4063 bit/s/Hz.
    assert NR_MAX_SE_BPS_HZ == pytest.approx(7.4063, abs=1e-4)
    assert Rate().max_se_bps_hz == pytest.approx(NR_MAX_SE_BPS_HZ)
    capped = ShannonRate(max_se_bps_hz=Rate().max_se_bps_hz)
    # 57 dB (InH with the defaults) would give log2(1 + 10^5.7) = 18.9 bit/s/Hz uncapped.
    assert capped.spectral_efficiency(10**5.7) == pytest.approx(7.40625)


def test_snr_ceiling_is_the_harmonic_combination_of_snr_and_evm():
    # EVM 3.5% (TS 38.104 for 256-QAM): ceiling 1 / 0.035^2 = 816.3 (29.12 dB). At an SNR equal to
    # the ceiling the effective SNR halves: log2(1 + 816.3 / 2).
    ceiling_db = 10 * np.log10(1 / 0.035**2)
    rate = ShannonRate(snr_ceiling_db=ceiling_db)
    assert rate.spectral_efficiency(1 / 0.035**2) == pytest.approx(np.log2(1 + 1 / 0.035**2 / 2))
    # Far above the ceiling the rate saturates at log2(1 + ceiling).
    assert rate.spectral_efficiency(1e12) == pytest.approx(np.log2(1 + 1 / 0.035**2), rel=1e-6)


def test_tdd_shares_of_dddsu_by_hand():
    from channels.rate import tdd_shares

    # DDDSU with the special slot 10:2:2 of 14 symbols: (1 + 2/14) / 5 up, (3 + 10/14) / 5 down.
    up, down = tdd_shares("DDDSU")
    assert up == pytest.approx(0.228571, abs=1e-6)
    assert down == pytest.approx(0.742857, abs=1e-6)
    assert tdd_shares("DU") == (0.5, 0.5)
    with pytest.raises(ValueError, match="D, S and U"):
        tdd_shares("DXU")


def test_tdd_scales_each_directions_rate_by_its_slots():
    from sim.core.engine import scenario_radio as build_radio
    from tests.conftest import scenario

    data = {"clients": {"count": 3}, "channel": {"snr_db": 10.0, "fading": {"model": "none"}}}
    fdd = build_radio(scenario(**data)).channel
    tdd = build_radio(scenario(**data, cell={"duplex": "tdd", "downlink_bandwidth_mhz": 50.0})).channel
    up, down = tdd.states(0.0, np.zeros((3, 2)))
    # 20 MHz at 10 dB: 20e6 log2(11) = 69.19 Mbit/s all the time; TDD: 22.9% of it up, 74.3% down.
    np.testing.assert_allclose(up.rate_bps, 0.2285714 * 20e6 * np.log2(11), rtol=1e-6)
    np.testing.assert_allclose(down.rate_bps, 0.7428571 * 20e6 * np.log2(11), rtol=1e-6)
    assert tdd.bandwidth_dl_hz == 20e6 and fdd.bandwidth_dl_hz == 20e6

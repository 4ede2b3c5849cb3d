"""No rate model carries more than Shannon capacity, B log2(1 + SNR), on whatever share it is given.

The reference is the closed form itself, never another library: fedwave's NR
tables come from Sionna, and Sionna's PUSCH table-2 BLER data were beyond the
Shannon limit (2.73 bit/s/Hz at 0 dB), which comparing with Sionna cannot catch.
"""

import numpy as np
import pytest
import simpy

from channels.nr_mcs import McsTable, NrMcsRate, check_capacity
from channels.rate import ShannonRate, TimeShare, tdd_shares
from sim.core.medium import make_medium

SNR_DB = np.arange(-30.0, 45.0, 0.01)
SNR = 10 ** (SNR_DB / 10)


def _models():
    models = {
        "shannon": ShannonRate(),
        "shannon gap 3 dB": ShannonRate(gap_db=3.0),
        "shannon capped 5.55": ShannonRate(max_se_bps_hz=5.5547),
        "shannon EVM ceiling 29 dB": ShannonRate(snr_ceiling_db=29.1),
        "shannon TDD uplink DDDSU": TimeShare(ShannonRate(), tdd_shares("DDDSU")[0]),
    }
    for direction in ("uplink", "downlink"):
        for table in (1, 2):
            models[f"nr_mcs {direction} table {table}"] = NrMcsRate.from_sionna(direction, mcs_table=table)
    return models


MODELS = _models()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_spectral_efficiency_never_exceeds_log2_1_plus_snr(name):
    se = MODELS[name].spectral_efficiency(SNR)
    assert np.all(se <= np.log2(1 + SNR) + 1e-12), SNR_DB[np.argmax(se - np.log2(1 + SNR))]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("sharing", ["fdma_static", "ofdma", "tdma", "proportional_fair"])
@pytest.mark.parametrize("concentrated", [True, False])
def test_no_share_exceeds_the_capacity_of_its_share(name, sharing, concentrated):
    # Prepare: 70 clients of one cell, full-band SNRs spread over -30 .. 40 dB.
    bw_hz = 20e6
    n = 70
    snr = 10 ** (np.linspace(-30, 40, n) / 10)
    medium = make_medium(simpy.Environment(), bw_hz, sharing, MODELS[name], concentrated)
    # Execute
    medium.begin_round(snr, n)
    rates = np.array([medium.expected_rate_bps(i) for i in range(n)])
    # Assert: B/N log2(1 + N s) with power concentrated in B/N, B/N log2(1 + s) at constant power density;
    # tdma: the whole band for a 1/N share of the time.
    if sharing == "tdma":
        bound = bw_hz * np.log2(1 + snr) / n
    elif concentrated:
        bound = bw_hz / n * np.log2(1 + n * snr)
    else:
        bound = bw_hz / n * np.log2(1 + snr)
    if sharing == "proportional_fair" and concentrated:
        # Any split b_i of B: r_i <= b_i log2(1 + s_i B / b_i) <= s_i B / ln 2, and the sum <= B log2(1 + sum s_i).
        assert np.all(rates <= snr * bw_hz / np.log(2) * (1 + 1e-9))
        assert rates.sum() <= bw_hz * np.log2(1 + snr.sum())
    else:
        assert np.all(rates <= bound * (1 + 1e-9))


def test_the_audited_case_uplink_table_2_at_0_db_is_below_capacity():
    # One client, no fading, 0 dB: log2(1 + 1) = 1 bit/s/Hz; the audit measured 2.73.
    rate = MODELS["nr_mcs uplink table 2"]
    assert rate.spectral_efficiency(1.0) <= 1.0
    # It still reaches 256-QAM at 30 dB (TS 38.214 Table 5.1.3.1-2, MCS 26: 8 x 916.5/1024).
    assert rate.spectral_efficiency(10 ** 3.0) == pytest.approx(8 * 916.5 / 1024)


def test_a_table_beyond_shannon_is_refused_with_the_reason():
    # Prepare: a table whose MCS promises 2.73 bit/s/Hz with no errors at 0 dB.
    table = McsTable(0.0, 0.1, np.array([11]), np.array([2.73]), np.array([0.0]))
    # Execute / Assert
    with pytest.raises(ValueError, match="beyond the Shannon limit"):
        check_capacity(table, 0.1, "test table")

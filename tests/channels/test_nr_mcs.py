"""nr_mcs: 5G NR link adaptation through Sionna, against TS 38.214 and against Sionna itself."""

import numpy as np
import pytest
import torch
from sionna.sys import InnerLoopLinkAdaptation, PHYAbstraction

from channels.nr_mcs import NrMcsRate

# TS 38.214 V17 Table 5.1.3.1-1 (MCS index table 1) and Table 5.1.3.1-2
# (table 2, 256-QAM): (modulation order Qm, target code rate R x 1024) by MCS index.
TS38214_TABLE_1 = [
    (2, 120), (2, 157), (2, 193), (2, 251), (2, 308), (2, 379), (2, 449), (2, 526), (2, 602), (2, 679),
    (4, 340), (4, 378), (4, 434), (4, 490), (4, 553), (4, 616), (4, 658),
    (6, 438), (6, 466), (6, 517), (6, 567), (6, 616), (6, 666), (6, 719), (6, 772), (6, 822), (6, 873),
    (6, 910), (6, 948),
]  # fmt: skip
TS38214_TABLE_2 = [
    (2, 120), (2, 193), (2, 308), (2, 449), (2, 602),
    (4, 378), (4, 434), (4, 490), (4, 553), (4, 616), (4, 658),
    (6, 466), (6, 517), (6, 567), (6, 616), (6, 666), (6, 719), (6, 772), (6, 822), (6, 873),
    (8, 682.5), (8, 711), (8, 754), (8, 797), (8, 841), (8, 885), (8, 916.5), (8, 948),
]  # fmt: skip
SNR_DB = np.arange(-8.0, 32.0, 0.25)


@pytest.fixture(scope="module")
def rates():
    return {
        (d, t): NrMcsRate.from_sionna(d, mcs_table=t, bler_target=0.1)
        for d in ("uplink", "downlink")
        for t in (1, 2)
    }


@pytest.mark.parametrize("direction", ["uplink", "downlink"])
@pytest.mark.parametrize("table, spec", [(1, TS38214_TABLE_1), (2, TS38214_TABLE_2)])
def test_spectral_efficiency_is_the_ts38214_entry_of_the_chosen_mcs(rates, direction, table, spec):
    rate = rates[(direction, table)]
    snr = 10 ** (SNR_DB / 10)
    mcs = rate.mcs_index(snr)
    expected = np.array([spec[m][0] * spec[m][1] / 1024 for m in mcs])
    # Below the lowest MCS's reach (its entry above log2(1 + SNR)) nothing is carried.
    expected = np.where(expected <= np.log2(1 + snr), expected, 0.0)
    np.testing.assert_allclose(rate.spectral_efficiency(snr), expected, rtol=1e-6)
    np.testing.assert_allclose(rate.rate_bps(snr, 20e6), 20e6 * expected, rtol=1e-6)


@pytest.mark.parametrize("direction", ["uplink", "downlink"])
@pytest.mark.parametrize("table", [1, 2])
def test_link_adaptation_meets_the_bler_target(rates, direction, table):
    rate = rates[(direction, table)]
    snr = 10 ** (SNR_DB / 10)
    mcs, bler = rate.mcs_index(snr), rate.block_error_rate(snr)
    # MCS never falls as SNR rises (SE may: table 1's MCS 17 has 2.5664 < MCS 16's 2.5703).
    assert np.all(np.diff(mcs) >= 0)
    # Above the lowest MCS, the TBLER never exceeds the target; far below the
    # lowest MCS's threshold, blocks are lost.
    assert np.all(bler[mcs > mcs.min()] <= 0.1)
    assert rate.block_error_rate(10 ** (-8 / 10)) > 0.9
    # At high SNR the top entries of the tables (64-QAM 910/1024 or better; 256-QAM).
    assert rate.spectral_efficiency(1e3) >= (6 * 910 / 1024 if table == 1 else 8 * 916.5 / 1024)


@pytest.mark.parametrize("direction, category", [("uplink", 0), ("downlink", 1)])
def test_numpy_lookup_reproduces_sionna_at_any_snr(rates, direction, category):
    # Off-grid SNRs (0.03 dB from a grid point, so both sides round the same way).
    snr_db = np.arange(-6.0, 31.0, 0.1) + 0.03
    snr = 10 ** (snr_db / 10)
    phy = PHYAbstraction()
    illa = InnerLoopLinkAdaptation(phy, bler_target=0.1)
    sinr = torch.tensor(snr, dtype=torch.float32)
    re = torch.full(sinr.shape, 1728, dtype=torch.int32)
    mcs = illa(sinr_eff=sinr, num_allocated_re=re, mcs_table_index=1, mcs_category=category)
    tbler = phy(mcs, sinr_eff=sinr, num_allocated_re=re, mcs_table_index=1, mcs_category=category)[3]
    ours = rates[(direction, 1)]
    np.testing.assert_array_equal(ours.mcs_index(snr), mcs.numpy())
    # Where Sionna's chosen MCS is beyond capacity at that SNR, fedwave loses the block (TBLER 1).
    within = ours.table.se_bps_hz[ours.table.index(snr)] <= np.log2(1 + snr)
    expected = np.where(within, np.clip(tbler.numpy(), 0, 1), 1.0)
    np.testing.assert_allclose(ours.block_error_rate(snr), expected, atol=1e-6)


def test_bad_arguments_fail_loudly():
    with pytest.raises(ValueError, match="sideways"):
        NrMcsRate.from_sionna("sideways")
    with pytest.raises(ValueError, match="bler_target"):
        NrMcsRate.from_sionna("uplink", bler_target=1.5)


@pytest.mark.parametrize("direction, category", [("uplink", 0), ("downlink", 1)])
def test_chase_combining_decodes_copy_k_at_k_times_the_snr(rates, direction, category):
    # Sionna's TBLER of the MCS chosen at s, at k s (k = 1 .. 4): the BLER after combining k copies.
    snr = 10 ** (np.array([-2.0, 3.0, 11.0, 19.0]) / 10)
    phy = PHYAbstraction()
    ours = rates[(direction, 1)]
    for s in snr:
        mcs = int(ours.mcs_index(s))
        k_snr = torch.tensor(s * np.arange(1, 5), dtype=torch.float32)
        re = torch.full(k_snr.shape, 1728, dtype=torch.int32)
        expected = phy(torch.full(k_snr.shape, mcs, dtype=torch.int32), sinr_eff=k_snr, num_allocated_re=re,
                       mcs_table_index=1, mcs_category=category)[3].numpy()
        # Grid rounding of k s (0.1 dB) is Sionna's own rule, so the lookup is exact up to float32.
        np.testing.assert_allclose(ours.combined_bler(s, 4), np.clip(expected, 0, 1), atol=1e-6)
        assert ours.combined_bler(s, 1)[0] == pytest.approx(float(ours.block_error_rate(s)), abs=1e-6)


def test_transport_block_sizes_follow_ts38214_by_hand(rates):
    # TS 38.214 5.1.3.2 on 1,728 REs, MCS table 1:
    # MCS 10 (Qm 4, R 340/1024): N_info = 2295 -> n = 5, N'_info = 2272 -> Table 5.1.3.2-1: 2280.
    # MCS 20 (Qm 6, R 567/1024): N_info = 5741.2 -> n = 7, N'_info = 5760 -> 8 ceil(5784 / 8) - 24 = 5760.
    # MCS 28 (Qm 6, R 948/1024): N_info = 9598.5 -> n = 8, N'_info = 9472 > 8424 -> C = 2,
    #   16 ceil(9496 / 16) - 24 = 9480.
    tb = rates[("uplink", 1)].table.tb_bits_by_mcs
    assert (tb[10], tb[20], tb[28]) == (2280, 5760, 9480)

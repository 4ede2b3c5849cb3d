"""TR 38.901 path loss, LOS probability and shadowing sigma against published values.

Reference path losses are ns-3's 3GPP propagation-loss test vectors
(src/propagation/test/three-gpp-propagation-loss-model-test-suite.cc, ns-3-dev:
received power for Pt = 0 dBm, so loss = -Pr), each computed there from TR
38.901 Table 7.4.1-1 at fc = 5 GHz, UT height 1.5 m and the BS heights below.
ns-3 uses the TR's 0.05 dB tolerance; so do we.  (ns-3's own UMi suite
declares its last six vectors but never adds them; they are checked here.)
"""

import math
import numpy as np
import pytest

from channels.tr38901 import tr38901_los_probability, tr38901_pathloss_db, tr38901_shadowing_sigma_db

NS3_BS_HEIGHT_M = {"rma": 35.0, "uma": 25.0, "umi": 10.0, "inh": 3.0}
# (model, 2D distance [m], LOS, received power [dBm] for 0 dBm sent)
NS3_VECTORS = [
    ("rma", 10, True, -77.3784), ("rma", 100, True, -87.2965), ("rma", 1000, True, -108.5577),
    ("rma", 10000, True, -140.3896), ("rma", 10, False, -77.3784), ("rma", 100, False, -95.7718),
    ("rma", 1000, False, -133.5223), ("rma", 5000, False, -160.5169),
    ("uma", 10, True, -72.9380), ("uma", 100, True, -86.2362), ("uma", 1000, True, -109.7252),
    ("uma", 5000, True, -137.6794), ("uma", 10, False, -82.5131), ("uma", 100, False, -106.1356),
    ("uma", 1000, False, -144.7641), ("uma", 5000, False, -172.0753),
    ("umi", 10, True, -69.8591), ("umi", 100, True, -88.4122), ("umi", 1000, True, -119.3114),
    ("umi", 5000, True, -147.2696), ("umi", 10, False, -76.7563), ("umi", 100, False, -107.9432),
    ("umi", 1000, False, -143.1886), ("umi", 5000, False, -167.8617),
    ("inh", 1, True, -50.8072), ("inh", 10, True, -63.7630), ("inh", 50, True, -75.7750),
    ("inh", 100, True, -80.9802), ("inh", 1, False, -50.8072), ("inh", 10, False, -73.1894),
    ("inh", 50, False, -99.7824), ("inh", 100, False, -111.3062),
]  # fmt: skip


@pytest.mark.parametrize("model, distance_m, los, rx_dbm", NS3_VECTORS)
def test_pathloss_matches_ns3_reference_vectors(model, distance_m, los, rx_dbm):
    pl = tr38901_pathloss_db(model, np.array([distance_m]), np.array([los]), 5e9, NS3_BS_HEIGHT_M[model], 1.5)
    assert pl[0] == pytest.approx(-rx_dbm, abs=0.05)


def test_pathloss_is_vectorised_and_clamped_below_the_validity_range():
    d = np.array([2.0, 10.0, 100.0])
    pl = tr38901_pathloss_db("umi", d, np.array([True, True, False]), 3.5e9, 10.0, 1.5)
    # 2 m is below UMi's 10 m minimum: the loss at 10 m is used.
    assert pl[0] == pl[1]
    assert pl.shape == (3,) and pl[2] > pl[1]


def test_unknown_model_fails_loudly():
    with pytest.raises(ValueError, match="umx"):
        tr38901_pathloss_db("umx", np.array([10.0]), True, 3.5e9, 10.0, 1.5)
    with pytest.raises(ValueError, match="umx"):
        tr38901_los_probability("umx", np.array([10.0]))


# Hand computations from TR 38.901 Table 7.4.2-1.
E = np.exp


@pytest.mark.parametrize(
    "model, distance_m, ue_height_m, office, expected",
    [
        ("umi", 18.0, 1.5, "mixed", 1.0),
        ("umi", 36.0, 1.5, "mixed", 0.5 + E(-1.0) * 0.5),
        ("umi", 100.0, 1.5, "mixed", 0.18 + E(-100 / 36) * 0.82),
        ("uma", 18.0, 1.5, "mixed", 1.0),
        ("uma", 63.0, 1.5, "mixed", 18 / 63 + E(-1.0) * (1 - 18 / 63)),
        # hUT = 23 m: C'(hUT) = 1, so the bracket gains 5/4 (d/100)^3 exp(-d/150).
        ("uma", 150.0, 23.0, "mixed", (0.12 + E(-150 / 63) * 0.88) * (1 + 1.25 * 1.5**3 * E(-1.0))),
        ("rma", 10.0, 1.5, "mixed", 1.0),
        ("rma", 1010.0, 1.5, "mixed", E(-1.0)),
        ("inh", 1.2, 1.5, "mixed", 1.0),
        ("inh", 5.9, 1.5, "mixed", E(-1.0)),
        ("inh", 39.1, 1.5, "mixed", 0.32 * E(-1.0)),
        ("inh", 5.0, 1.5, "open", 1.0),
        ("inh", 40.8, 1.5, "open", E(-35.8 / 70.8)),
        ("inh", 260.7, 1.5, "open", 0.54 * E(-1.0)),
    ],
)
def test_los_probability_hand_values(model, distance_m, ue_height_m, office, expected):
    p = tr38901_los_probability(model, np.array([distance_m]), ue_height_m, office)
    assert p[0] == pytest.approx(expected, rel=1e-12)


def test_shadowing_sigmas_of_table_7_4_1_1():
    los = np.array([True, False])
    d = np.array([100.0, 100.0])
    assert list(tr38901_shadowing_sigma_db("umi", los, d, 3.5e9, 10.0, 1.5)) == [4.0, 7.82]
    assert list(tr38901_shadowing_sigma_db("uma", los, d, 3.5e9, 25.0, 1.5)) == [4.0, 6.0]
    assert list(tr38901_shadowing_sigma_db("inh", los, d, 3.5e9, 3.0, 1.5)) == [3.0, 8.03]
    # RMa LOS: 4 dB up to d_BP = 2 pi hBS hUT fc / c (1100 m here), 6 dB beyond; NLOS 8 dB.
    rma = tr38901_shadowing_sigma_db("rma", np.array([True, True, False]), np.array([1000.0, 1200.0, 50.0]), 1e9, 35.0, 1.5)
    assert list(rma) == [4.0, 6.0, 8.0]


@pytest.mark.parametrize("model, bs_height_m", [("umi", 10.0), ("uma", 25.0), ("rma", 35.0), ("inh", 3.0)])
def test_closed_form_agrees_with_sionna_tr38901(model, bs_height_m):
    """Sionna's TR 38.901 scenarios compute the same basic path loss and LOS probability."""
    torch = pytest.importorskip("torch")
    tr = pytest.importorskip("sionna.phy.channel.tr38901")
    arr = tr.PanelArray(
        num_rows_per_panel=1,
        num_cols_per_panel=1,
        polarization="single",
        polarization_type="V",
        antenna_pattern="omni",
        carrier_frequency=3.5e9,
    )
    cls, kw = {
        "umi": (tr.UMiScenario, {"o2i_model": "low"}),
        "uma": (tr.UMaScenario, {"o2i_model": "low"}),
        "rma": (tr.RMaScenario, {}),
        "inh": (tr.InHScenario, {"indoor_scenario": "mixed"}),
    }[model]
    d = np.array([1.0, 3.0, 7.0, 15.0, 40.0, 90.0, 140.0]) if model == "inh" else np.array([12.0, 80.0, 400.0, 1800.0, 4000.0])
    n = d.size
    scenario = cls(3.5e9, ut_array=arr, bs_array=arr, direction="uplink", **kw)
    ut = torch.zeros(1, n, 3)
    ut[0, :, 0] = torch.tensor(d, dtype=torch.float32)
    ut[0, :, 2] = 1.5
    for los in (True, False):
        scenario.set_topology(
            ut_loc=ut,
            bs_loc=torch.tensor([[[0.0, 0.0, bs_height_m]]]),
            ut_orientations=torch.zeros(1, n, 3),
            bs_orientations=torch.zeros(1, 1, 3),
            ut_velocities=torch.zeros(1, n, 3),
            in_state=torch.full((1, n), model == "inh"),
            los=los,
        )
        ours = tr38901_pathloss_db(model, d, los, 3.5e9, bs_height_m, 1.5)
        np.testing.assert_allclose(scenario.basic_pathloss[0, 0].numpy(), ours, atol=0.01)
    np.testing.assert_allclose(scenario.los_probability.numpy().ravel(), tr38901_los_probability(model, d), atol=1e-6)


def test_rma_los_beyond_the_breakpoint_is_the_tr_formula_by_hand():
    # TR 38.901 Table 7.4.1-1, RMa LOS: d_BP = 2 pi h_BS h_UT f_c / c; beyond it
    # PL2 = PL1(d_BP) + 40 log10(d_3D / d_BP), with
    # PL1(d) = 20 log10(40 pi d f_c / 3) + min(0.03 h^1.72, 10) log10 d - min(0.044 h^1.72, 14.77) + 0.002 log10(h) d.
    fc_ghz, h_bs, h_ut, h = 3.5, 35.0, 1.5, 5.0
    d_bp = 2 * math.pi * h_bs * h_ut * fc_ghz * 1e9 / 299_792_458.0  # 3851.3 m

    def pl1(d):
        return (20 * math.log10(40 * math.pi * d * fc_ghz / 3) + min(0.03 * h**1.72, 10) * math.log10(d)
                - min(0.044 * h**1.72, 14.77) + 0.002 * math.log10(h) * d)

    d2d = np.array([6000.0, 9000.0])
    d3d = np.hypot(d2d, h_bs - h_ut)
    expected = [pl1(d_bp) + 40 * math.log10(x / d_bp) for x in d3d]
    got = tr38901_pathloss_db("rma", d2d, np.array([True, True]), fc_ghz * 1e9, h_bs, h_ut, 1.0, h, 20.0)
    np.testing.assert_allclose(got, expected, atol=1e-9)

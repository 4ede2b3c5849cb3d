import numpy as np
import pytest

from channels.pathloss import free_space_db, log_distance_db


@pytest.mark.parametrize(
    "distance_m, rx_power_w",
    # ns-3 FriisPropagationLossModel test vectors: f = 2398339664 Hz
    # (wavelength 0.125 m), Pt = 0.05035702 W, no system loss.
    [(100, 4.98265e-10), (500, 1.99306e-11), (1000, 4.98265e-12), (2000, 1.24566e-12)],
)
def test_friis_matches_ns3_reference_vectors(distance_m, rx_power_w):
    rx = 0.05035702 / 10 ** (free_space_db(distance_m, 2398339664.0) / 10)
    assert rx == pytest.approx(rx_power_w, rel=2e-5)


def test_log_distance_slope_and_reference():
    d = np.array([1.0, 10.0, 100.0])
    pl = log_distance_db(d, 3.5e9, exponent=3.0, reference_m=1.0, reference_loss_db=40.0)
    np.testing.assert_allclose(pl, [40.0, 70.0, 100.0])


def test_log_distance_defaults_to_free_space_at_reference_and_clamps_below():
    pl = log_distance_db(np.array([0.5, 1.0]), 3.5e9, exponent=3.5)
    expected = 20 * np.log10(4 * np.pi * 1.0 * 3.5e9 / 299_792_458.0)
    np.testing.assert_allclose(pl, [expected, expected])


"""Full-load inter-cell interference against hand-worked arrays."""

import math

import numpy as np
import pytest

from channels.interference import downlink_interference_w, sinr_cut_db, uplink_interference_w


def test_downlink_sums_every_site_but_the_serving_one():
    gains = np.array([[1e-9, 2e-10, 3e-11], [4e-10, 5e-9, 6e-12]])
    got = downlink_interference_w(gains, np.array([0, 1]), 20.0)
    np.testing.assert_allclose(got, [20.0 * (2e-10 + 3e-11), 20.0 * (4e-10 + 6e-12)], rtol=1e-15)


def test_uplink_is_the_serving_sites_row_without_its_own_cell():
    # [k, j]: UE at cell j's centre heard by site k; the diagonal is ignored.
    gains = np.array([[9.0, 1e-12, 2e-12], [3e-12, 9.0, 4e-12], [5e-12, 6e-12, 9.0]])
    got = uplink_interference_w(gains, np.array([2, 0, 2, 1]), 0.2)
    np.testing.assert_allclose(got, 0.2 * np.array([11e-12, 3e-12, 11e-12, 7e-12]), rtol=1e-15)


def test_sinr_cut():
    assert sinr_cut_db(np.array([1e-12]), 1e-12)[0] == pytest.approx(10 * math.log10(2))
    assert sinr_cut_db(np.array([0.0]), 1e-12)[0] == 0.0
    assert sinr_cut_db(np.array([99e-13]), 1e-13)[0] == pytest.approx(20.0)


def test_share_sinr_with_concentrated_interferers_by_hand():
    from channels.interference import concentrated_share_sinr

    # S = 10, N = 1, I = 2 over the full band: full-band SINR 10/3. On a share B/5 both the
    # wanted client and the interferer put all their power there: 10 / (1/5 + 2) = 4.545.
    got = concentrated_share_sinr(np.array([10 / 3]), np.array([2.0]), 5)
    assert got[0] == pytest.approx(10 / (1 / 5 + 2))
    # Without interference it is the plain power concentration n s.
    assert concentrated_share_sinr(np.array([3.0]), 0.0, 4)[0] == pytest.approx(12.0)


def test_hexagon_points_are_uniform_in_area():
    from channels.hexgrid import hex_cell_points

    # A regular hexagon of circumradius R: E[r^2] = 5 R^2 / 12 for a uniform point, mean at the centre.
    pts = hex_cell_points(200.0, 0.0)
    big_r = 200.0 / math.sqrt(3)
    assert np.mean(np.sum(pts**2, axis=1)) == pytest.approx(5 * big_r**2 / 12, rel=5e-3)
    np.testing.assert_allclose(pts.mean(axis=0), 0.0, atol=1e-9 * big_r + 1e-6)

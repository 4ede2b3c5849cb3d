"""Hexagonal multi-cell drop: the grid against Sionna's HexGrid, the drop against geometry."""

import numpy as np
import pytest
from scipy import stats
from sionna.sys import HexGrid

from channels.hexgrid import hex_drop, hex_sites, site_count


@pytest.mark.parametrize("num_rings", [1, 2, 3])
def test_sites_match_sionna_hexgrid(num_rings):
    ours = hex_sites(num_rings, 200.0)
    theirs = HexGrid(num_rings=num_rings, isd=200.0).cell_loc[:, :2].numpy().astype(float)
    assert ours.shape == theirs.shape == (1 + 3 * num_rings * (num_rings + 1), 2)
    key = lambda a: a[np.lexsort(np.round(a, 3).T[::-1])]  # noqa: E731
    np.testing.assert_allclose(key(ours), key(theirs), atol=1e-3)


def test_clients_are_served_by_their_nearest_site_and_cells_are_equally_likely():
    n = 7000
    drop = hex_drop([np.random.default_rng([5, i]) for i in range(n)], 1, 200.0, 10.0, 1.5, 25.0)
    sites = hex_sites(1, 200.0)
    d_all = np.hypot(drop.xy_m[:, None, 0] - sites[None, :, 0], drop.xy_m[:, None, 1] - sites[None, :, 1])
    np.testing.assert_array_equal(np.argmin(d_all, axis=1), drop.site)
    np.testing.assert_allclose(drop.distance_2d_m, d_all[np.arange(n), drop.site])
    assert drop.distance_2d_m.min() >= 10.0 and drop.distance_2d_m.max() <= 200 / np.sqrt(3) + 1e-9
    assert stats.chisquare(np.bincount(drop.site, minlength=7)).pvalue > 1e-3
    # Uniform in area: the fraction within the inscribed circle (radius isd/2) is
    # its area over the hexagon's, minus the 10 m hole: (pi (100^2 - 10^2)) / (6 sqrt(3)/4 R^2 - pi 10^2).
    big_r = 200 / np.sqrt(3)
    expected = np.pi * (100**2 - 10**2) / (1.5 * np.sqrt(3) * big_r**2 - np.pi * 10**2)
    frac = np.mean(drop.distance_2d_m <= 100.0)
    assert frac == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))


def test_bad_grid_fails_loudly():
    with pytest.raises(ValueError, match="isd_m"):
        hex_sites(1, 0.0)
    with pytest.raises(ValueError, match="min_distance_m"):
        hex_drop([np.random.default_rng(0)], 1, 100.0, 60.0, 1.5, 25.0)


def test_site_count_is_the_centred_hexagonal_number_hex_sites_lays_out():
    assert [site_count(r) for r in range(4)] == [1, 7, 19, 37]
    assert all(site_count(r) == len(hex_sites(r, 500.0)) for r in range(4))

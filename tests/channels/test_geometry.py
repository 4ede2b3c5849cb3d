import numpy as np
import pytest
from scipy import stats

from channels.geometry import fixed, uniform_disc


def test_uniform_disc_radius_follows_area_law():
    rngs = [np.random.default_rng(i) for i in range(4000)]
    drop = uniform_disc(rngs, radius_m=200.0, min_distance_m=20.0, ue_height_m=1.5, bs_height_m=10.0)
    r = drop.distance_2d_m
    assert r.min() >= 20.0 and r.max() <= 200.0
    # CDF of the radius for a uniform density on the annulus: (r^2 - r0^2) / (R^2 - r0^2).
    cdf = lambda x: (np.clip(x, 20, 200) ** 2 - 20.0**2) / (200.0**2 - 20.0**2)  # noqa: E731
    assert stats.kstest(r, cdf).pvalue > 1e-3


def test_fixed_drop_distances_and_heights():
    drop = fixed([30.0, 40.0], ue_height_m=1.5, bs_height_m=11.5)
    np.testing.assert_allclose(drop.distance_2d_m, [30.0, 40.0])
    np.testing.assert_allclose(drop.distance_3d_m, [np.hypot(30, 10), np.hypot(40, 10)])


def test_bad_geometry_is_rejected():
    with pytest.raises(ValueError, match="min_distance_m"):
        uniform_disc([np.random.default_rng(0)], 10.0, 10.0, 1.5, 10.0)
    with pytest.raises(ValueError, match="distances_m"):
        fixed([-1.0], 1.5, 10.0)


def test_ring_puts_everyone_at_the_radius_with_uniform_bearings():
    from channels.geometry import ring

    drop = ring([np.random.default_rng(i) for i in range(3000)], 120.0, 1.5, 10.0)
    np.testing.assert_allclose(drop.distance_2d_m, 120.0)
    bearing = np.arctan2(drop.xy_m[:, 1], drop.xy_m[:, 0])
    assert stats.kstest(bearing, stats.uniform(loc=-np.pi, scale=2 * np.pi).cdf).pvalue > 1e-3

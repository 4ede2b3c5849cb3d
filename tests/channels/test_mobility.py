"""Mobility against hand-worked trajectories and geometric invariants."""

import numpy as np
import pytest
from scipy import stats

from channels.mobility import Mobility, doppler_hz


def rngs(n, seed=0):
    return [np.random.default_rng([seed, i]) for i in range(n)]


def test_doppler_from_speed_hand_value():
    # 30 m/s at 3.5 GHz: 30 * 3.5e9 / 299792458 = 350.2423 Hz.
    assert doppler_hz(30.0, 3.5e9) == pytest.approx(350.2423, abs=1e-4)


def test_constant_velocity_reflects_at_the_cell_edge():
    mob = Mobility("constant_velocity", np.zeros((1, 2)), 10.0, 100.0, 0.0, rngs(1))
    heading = mob._velocity[0] / 10.0
    # From the centre, 10 s at 10 m/s reaches the edge; 5 s more brings it back to 50 m
    # along the same line (radial incidence reflects straight back).
    np.testing.assert_allclose(mob.positions(5.0)[0], 50.0 * heading, atol=1e-9)
    np.testing.assert_allclose(mob.positions(15.0)[0], 50.0 * heading, atol=1e-9)
    np.testing.assert_allclose(mob.positions(25.0)[0], -50.0 * heading, atol=1e-9)


def test_constant_velocity_oblique_reflection_keeps_the_angle():
    # Start at (0, 60) heading +x at 10 m/s in a 100 m cell: the edge is at x = 80
    # (3-4-5 triangle) after 8 s; the normal there is (0.8, 0.6), so the new
    # heading is (1, 0) - 2 * 0.8 * (0.8, 0.6) = (-0.28, -0.96).
    mob = Mobility("constant_velocity", np.array([[0.0, 60.0]]), 10.0, 100.0, 0.0, rngs(1))
    mob._velocity[:] = [[10.0, 0.0]]
    np.testing.assert_allclose(mob.positions(10.0)[0], [80.0 - 20 * 0.28, 60.0 - 20 * 0.96], atol=1e-9)


def test_moving_clients_stay_in_the_cell_and_move_at_their_speed():
    n = 2000
    rng = np.random.default_rng(3)
    r0 = 250 * np.sqrt(rng.random(n))
    phi = 2 * np.pi * rng.random(n)
    xy0 = np.column_stack([r0 * np.cos(phi), r0 * np.sin(phi)])
    for kind in ("constant_velocity", "random_waypoint"):
        mob = Mobility(kind, xy0, 30.0, 250.0, 10.0, rngs(n, 1))
        prev = mob.positions(0.0)
        for t in np.arange(0.5, 60.0, 0.5):
            xy = mob.positions(t)
            assert np.hypot(xy[:, 0], xy[:, 1]).max() <= 250.0 + 1e-6
            # No client covers more ground than v dt (straight line), and most cover exactly that.
            step = np.hypot(*(xy - prev).T)
            assert step.max() <= 15.0 + 1e-9
            assert np.median(step) == pytest.approx(15.0, rel=1e-9)
            prev = xy


def test_constant_velocity_keeps_clients_uniform_in_area():
    # Specular reflection in a disc preserves the uniform density: radii after a
    # long walk still follow the area law P(r <= x) = x^2 / R^2.
    n = 3000
    rng = np.random.default_rng(4)
    r0 = 100 * np.sqrt(rng.random(n))
    phi = 2 * np.pi * rng.random(n)
    mob = Mobility("constant_velocity", np.column_stack([r0 * np.cos(phi), r0 * np.sin(phi)]), 7.0, 100.0, 0.0, rngs(n, 2))
    xy = mob.positions(1000.0)
    assert stats.kstest(np.hypot(xy[:, 0], xy[:, 1]), lambda x: np.clip(x / 100.0, 0, 1) ** 2).pvalue > 1e-3


def test_static_clients_and_bad_input():
    xy = np.array([[10.0, 0.0]])
    assert np.array_equal(Mobility("static", xy, 5.0, 100.0, 0.0, rngs(1)).positions(100.0), xy)
    mob = Mobility("random_waypoint", xy, 5.0, 100.0, 0.0, rngs(1))
    mob.positions(2.0)
    with pytest.raises(ValueError, match="forward"):
        mob.positions(1.0)
    with pytest.raises(ValueError, match="teleport"):
        Mobility("teleport", xy, 5.0, 100.0, 0.0, rngs(1))
    with pytest.raises(ValueError, match="radius_m"):
        Mobility("static", np.array([[200.0, 0.0]]), 5.0, 100.0, 0.0, rngs(1))

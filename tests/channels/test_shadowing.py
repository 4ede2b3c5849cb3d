"""Correlated shadowing against the exponential model R(dx) = exp(-dx / d_cor)."""

import numpy as np
import pytest

from channels.shadowing import correlated_normals, evolve_normals


def test_cross_client_correlation_is_exponential_in_distance():
    # Clients on a line at 0, 5, 20 and 60 m, d_cor = 20 m; 20,000 independent drops.
    xy = np.array([[0.0, 0.0], [5.0, 0.0], [20.0, 0.0], [60.0, 0.0]])
    rng = np.random.default_rng(0)
    z = np.array([correlated_normals(xy, 20.0, rng.standard_normal(4)) for _ in range(20_000)])
    c = np.corrcoef(z.T)
    for i, j in [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)]:
        dx = abs(xy[i, 0] - xy[j, 0])
        assert c[i, j] == pytest.approx(np.exp(-dx / 20.0), abs=0.02)
    np.testing.assert_allclose(z.var(axis=0), 1.0, atol=0.03)


def test_adding_a_client_keeps_the_others():
    xy = np.random.default_rng(1).uniform(-100, 100, (6, 2))
    w = np.random.default_rng(2).standard_normal(6)
    np.testing.assert_allclose(correlated_normals(xy[:5], 30.0, w[:5]), correlated_normals(xy, 30.0, w)[:5])


def test_along_a_path_the_correlation_is_exponential_in_displacement():
    n = 50_000
    rng = np.random.default_rng(3)
    z0 = rng.standard_normal(n)
    z1 = evolve_normals(z0, np.full(n, 10.0), 25.0, rng.standard_normal(n))
    z2 = evolve_normals(z1, np.full(n, 15.0), 25.0, rng.standard_normal(n))
    assert np.corrcoef(z0, z1)[0, 1] == pytest.approx(np.exp(-10 / 25), abs=0.01)
    # Two steps compose: exp(-10/25) exp(-15/25) = exp(-25/25).
    assert np.corrcoef(z0, z2)[0, 1] == pytest.approx(np.exp(-1.0), abs=0.01)
    assert z2.var() == pytest.approx(1.0, abs=0.02)


def test_too_many_clients_or_bad_distance_fail_loudly():
    with pytest.raises(ValueError, match="up to"):
        correlated_normals(np.zeros((5001, 2)), 10.0, np.zeros(5001))
    with pytest.raises(ValueError, match="correlation_m"):
        correlated_normals(np.zeros((2, 2)), 0.0, np.zeros(2))

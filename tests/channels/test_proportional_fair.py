"""The proportional-fair split against closed forms and the KKT conditions, checked by finite differences."""

import math

import mpmath
import numpy as np
import pytest
from scipy.optimize import brentq

from channels.proportional_fair import pf_marginal_utility, pf_phi, pf_shares

B = 1e6


def log_rate(a, b):
    return np.log(b * np.log2(1.0 + a / b))


def fd_marginal_utility(a, b):
    """d/db log r(b) by a central difference: independent of the solver's closed form."""
    h = 1e-5 * b
    return (log_rate(a, b + h) - log_rate(a, b - h)) / (2 * h)


@pytest.mark.parametrize("n", [2, 3, 17])
def test_equal_snrs_get_equal_shares(n):
    b, _ = pf_shares(np.full(n, 4.0 * B), B)
    np.testing.assert_allclose(b, B / n, rtol=1e-12)


def test_one_user_gets_the_band_and_a_dead_link_gets_none():
    b, _ = pf_shares(np.array([0.0, 2.0 * B]), B)
    assert b.tolist() == [0.0, B]
    b, _ = pf_shares(np.array([0.0, 3.0 * B, 0.1 * B]), B)
    assert b[0] == 0.0 and b.sum() == pytest.approx(B, rel=1e-14)


def test_two_user_split_matches_a_hand_built_optimum():
    # Fix a1 and the split (0.7 B, 0.3 B); find the a2 that makes the marginal
    # utilities equal there, by finite differences and a root finder. The
    # solver given (a1, a2) must return that split.
    a1, b1, b2 = 5.0 * B, 0.7 * B, 0.3 * B
    target = fd_marginal_utility(a1, b1)
    a2 = brentq(lambda a: fd_marginal_utility(a, b2) - target, 1e-3 * B, 1e6 * B, xtol=1e-6, rtol=1e-14)
    b, _ = pf_shares(np.array([a1, a2]), B)
    np.testing.assert_allclose(b, [b1, b2], rtol=1e-6)
    # The weaker user gets less band: power-limited, its rate (~ a / ln 2)
    # hardly grows with the band, while the stronger one's grows in proportion.
    assert a2 < a1


def test_kkt_marginal_utilities_are_equal_on_a_random_instance():
    rng = np.random.default_rng(7)
    a = 10 ** rng.uniform(-2, 5, 40) * B
    b, log_lambda = pf_shares(a, B)
    assert b.sum() == pytest.approx(B, rel=1e-12)
    assert (b > 0).all()
    mu = fd_marginal_utility(a, b)
    np.testing.assert_allclose(mu, mu.mean(), rtol=1e-6)
    np.testing.assert_allclose(pf_marginal_utility(a, b), math.exp(log_lambda), rtol=1e-9)


def test_sum_log_rate_beats_equal_split_and_perturbations():
    rng = np.random.default_rng(11)
    a = 10 ** rng.uniform(-1, 4, 12) * B
    b, _ = pf_shares(a, B)
    best = log_rate(a, b).sum()
    assert best > log_rate(a, np.full(12, B / 12)).sum()
    for _ in range(200):
        d = rng.standard_normal(12)
        d -= d.mean()  # stay on sum b = B
        for eps in (1e-2, 1e-4):
            moved = b + eps * b.min() * d / np.abs(d).max()
            assert log_rate(a, moved).sum() < best


@pytest.mark.parametrize("x", [1e-8, 3e-5, 0.99e-4, 1.01e-4, 0.3, 2.0, 1e3, 1e9])
def test_phi_and_its_derivative_match_high_precision(x):
    mpmath.mp.dps = 40
    xm = mpmath.mpf(x)
    phi = lambda t: t - t**2 / ((1 + t) * mpmath.log1p(t))  # noqa: E731
    got_phi, got_dphi = pf_phi(np.array([x]))
    assert float(got_phi[0]) == pytest.approx(float(phi(xm)), rel=1e-10)
    assert float(got_dphi[0]) == pytest.approx(float(mpmath.diff(phi, xm)), rel=1e-10)


def test_extreme_snr_spread_still_sums_to_the_band():
    a = np.array([1e-7, 1e-3, 1.0, 1e4, 1e9]) * B
    b, _ = pf_shares(a, B)
    assert b.sum() == pytest.approx(B, rel=1e-12)
    mu = pf_marginal_utility(a, b)
    np.testing.assert_allclose(mu, mu[0], rtol=1e-8)


def test_hint_does_not_change_the_answer():
    a = np.array([0.5, 2.0, 30.0, 400.0]) * B
    cold, t = pf_shares(a, B)
    warm, _ = pf_shares(a[1:], B, t)
    fresh, _ = pf_shares(a[1:], B)
    np.testing.assert_allclose(warm, fresh, rtol=1e-12)
    assert cold.shape == (4,)


def test_rejects_a_bad_band():
    with pytest.raises(ValueError, match="bandwidth_hz"):
        pf_shares(np.ones(2), 0.0)


def test_wide_spreads_and_far_hints_converge_to_the_kkt_point():
    rng = np.random.default_rng(5)
    for k in range(200):
        n = int(rng.integers(2, 300))
        low = rng.uniform(-9, 3)
        bw = 10 ** rng.uniform(3, 9)
        a = 10 ** rng.uniform(low, low + rng.uniform(0, 12), n) * bw
        b, log_lambda = pf_shares(a, bw, None if k % 2 else rng.uniform(-80, 20))
        assert b.sum() == pytest.approx(bw, rel=1e-12)
        np.testing.assert_allclose(pf_marginal_utility(a, b), math.exp(log_lambda), rtol=1e-9)

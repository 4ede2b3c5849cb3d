"""Fading statistics against closed forms (Monte Carlo, seeded, stated tolerances)."""

import numpy as np
import pytest
from scipy import special, stats

from channels.fading import SOS_WAVES, Fading

N = 200_000


def gains(model, seed=0, n=N, **kw):
    rng = np.random.default_rng(seed)
    return Fading(model, n, los_phase_rad=rng.uniform(0, 2 * np.pi, n), **kw).gain(0.0, rng.standard_normal((n, 2)))


@pytest.mark.parametrize(
    "model, kw", [("none", {}), ("rayleigh", {}), ("rician", {"k_db": 6.0}), ("nakagami", {"m": 2.5})]
)
def test_every_model_preserves_mean_power(model, kw):
    g = gains(model, **kw)
    assert g.mean() == pytest.approx(1.0, abs=0.01)


def test_rayleigh_power_is_exponential_ks():
    assert stats.kstest(gains("rayleigh", seed=1, n=20_000), "expon").pvalue > 1e-3


@pytest.mark.parametrize("snr_db, rate_bps_hz", [(0.0, 1.0), (10.0, 2.0), (20.0, 4.0)])
def test_rayleigh_outage_matches_closed_form(snr_db, rate_bps_hz):
    # P(log2(1 + S g) < R) = 1 - exp(-(2^R - 1) / S)
    s = 10 ** (snr_db / 10)
    measured = np.mean(np.log2(1 + s * gains("rayleigh", seed=2)) < rate_bps_hz)
    expected = 1 - np.exp(-(2**rate_bps_hz - 1) / s)
    assert measured == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / N) + 1e-4)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_rayleigh_ergodic_capacity_matches_closed_form(snr_db):
    # E[log2(1 + S g)] = e^(1/S) E1(1/S) / ln 2
    s = 10 ** (snr_db / 10)
    measured = np.mean(np.log2(1 + s * gains("rayleigh", seed=3)))
    expected = np.exp(1 / s) * special.exp1(1 / s) / np.log(2)
    assert measured == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("m", [0.5, 1.0, 2.5, 6.0])
def test_nakagami_outage_is_regularised_lower_gamma(m):
    g = gains("nakagami", seed=4, m=m)
    for x in (0.1, 0.5, 1.0, 2.0):
        assert np.mean(g < x) == pytest.approx(special.gammainc(m, m * x), abs=0.005)


@pytest.mark.parametrize("k_db", [0.0, 3.0, 10.0])
def test_rician_amount_of_fading(k_db):
    # AF = Var[g] / E[g]^2 = (1 + 2K) / (1 + K)^2
    k = 10 ** (k_db / 10)
    g = gains("rician", seed=5, k_db=k_db)
    assert g.var() / g.mean() ** 2 == pytest.approx((1 + 2 * k) / (1 + k) ** 2, rel=0.02)


@pytest.mark.parametrize("doppler_hz, dt_s", [(10.0, 0.01), (5.0, 0.05), (50.0, 0.001)])
def test_ar1_lag_correlation_is_j0(doppler_hz, dt_s):
    rng = np.random.default_rng(6)
    f = Fading("rayleigh", N, doppler_hz=doppler_hz)
    g0 = f.gain(1.0, rng.standard_normal((N, 2)))
    g1 = f.gain(1.0 + dt_s, rng.standard_normal((N, 2)))
    rho = special.j0(2 * np.pi * doppler_hz * dt_s)
    # For complex Gaussian h, corr(|h_0|^2, |h_1|^2) = |corr(h_0, h_1)|^2 = J0^2.
    assert np.corrcoef(g0, g1)[0, 1] == pytest.approx(rho**2, abs=0.01)
    assert f.correlation(dt_s) == pytest.approx(rho)


def test_time_correlated_nakagami_keeps_its_marginal():
    rng = np.random.default_rng(7)
    f = Fading("nakagami", 20_000, m=3.0, doppler_hz=20.0)
    f.gain(0.0, rng.standard_normal((20_000, 2)))
    g = f.gain(0.004, rng.standard_normal((20_000, 2)))
    assert stats.kstest(g, stats.gamma(a=3.0, scale=1 / 3.0).cdf).pvalue > 1e-3


def test_block_fading_draws_are_independent():
    rng = np.random.default_rng(8)
    f = Fading("rayleigh", N)
    g0 = f.gain(0.0, rng.standard_normal((N, 2)))
    g1 = f.gain(0.001, rng.standard_normal((N, 2)))
    assert abs(np.corrcoef(g0, g1)[0, 1]) < 0.01


def test_bad_parameters_fail_loudly():
    with pytest.raises(ValueError, match="raleigh"):
        Fading("raleigh", 1)
    with pytest.raises(ValueError, match="0.5"):
        Fading("nakagami", 1, m=0.3)


def sos(model="rayleigh", n=4000, doppler_hz=50.0, seed=11, **kw):
    rngs = [np.random.default_rng([seed, i]) for i in range(n)]
    return Fading(model, n, doppler_hz=doppler_hz, doppler_model="sum_of_sinusoids", rngs=rngs, **kw)


@pytest.mark.parametrize("lag", [1, 2, 3, 4, 5])
def test_sum_of_sinusoids_matches_jakes_at_lags_1_to_5(lag):
    # Prepare: f_d T = 0.1, so J0(2 pi f_d k T) runs from 0.904 (k = 1) to -0.30 (k = 5).
    f_d, t_s = 50.0, 0.002
    f = sos(doppler_hz=f_d)
    times = 1.7 + t_s * np.arange(0, 400)
    # Execute: the field at 400 instants for 4000 clients (ensemble and time average).
    g = f.scattered(times)
    field = np.mean(g[:, :-lag] * np.conj(g[:, lag:])).real
    p = np.abs(g) ** 2
    power = np.corrcoef(p[:, :-lag].ravel(), p[:, lag:].ravel())[0, 1]
    # Assert: Jakes/Clarke, J0 for the field and J0^2 for the power (not AR(1)'s J0(2 pi f_d T)^(2k)).
    # M waves leave a 1/M term in the power's fourth moment: its correlation is (J0^2 - 1/M) / (1 - 1/M).
    rho = special.j0(2 * np.pi * f_d * lag * t_s)
    assert field == pytest.approx(rho, abs=0.02)
    assert power == pytest.approx((rho**2 - 1 / SOS_WAVES) / (1 - 1 / SOS_WAVES), abs=0.02)
    if lag >= 3:
        assert abs(power - special.j0(2 * np.pi * f_d * t_s) ** (2 * lag)) > 0.1  # what AR(1) would give


def test_sum_of_sinusoids_marginal_is_rayleigh():
    g = sos(n=20_000).gain(3.0, np.zeros((20_000, 2)))
    assert g.mean() == pytest.approx(1.0, abs=0.03)
    assert stats.kstest(g, stats.expon.cdf).pvalue > 1e-3


def test_block_gains_start_at_the_round_gain_for_both_generators():
    f = sos("nakagami", n=50, m=2.0)
    g0 = f.gain(1.0, np.zeros((50, 2)))
    blocks = f.block_gains(1.0, 0.001, 8)
    np.testing.assert_allclose(blocks[:, 0], g0)
    rngs = [np.random.default_rng(i) for i in range(50)]
    a = Fading("rayleigh", 50, doppler_hz=50.0, doppler_model="ar1", rngs=rngs)
    g0 = a.gain(1.0, np.random.default_rng(0).standard_normal((50, 2)))
    blocks = a.block_gains(1.0, 0.001, 8)
    np.testing.assert_allclose(blocks[:, 0], g0)
    assert blocks.shape == (50, 8)

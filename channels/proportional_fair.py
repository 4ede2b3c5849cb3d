"""Proportional-fair split of one band among users whose power is concentrated in their share.

User i holding ``b_i`` Hz of a band ``B`` with full-band SNR ``s_i`` puts its
whole power into ``b_i``, so its SNR there is ``a_i / b_i`` with
``a_i = s_i B`` and its rate is

    r_i(b) = b log2(1 + a_i / b),

concave and increasing in ``b``.  The proportional-fair split maximises
``sum_i log r_i(b_i)`` subject to ``sum_i b_i = B``: a concave problem whose KKT
condition is that every user's marginal utility ``r_i'(b_i) / r_i(b_i)`` equals
one multiplier ``lambda``.  With ``x = a / b`` (the SNR on the share) that
marginal utility is ``phi(x) / a`` where

    phi(x) = x - x^2 / ((1 + x) ln(1 + x)),

increasing from ``x^2 / 2`` near 0 to ``x`` at large ``x`` (elasticity
``x phi'(x) / phi(x)`` between 1 and 2).  So for a given ``lambda`` each user's
SNR solves ``phi(x_i) = lambda a_i`` (Newton in ``ln x``, slope in [1, 2]) and
the shares sum to ``sum_i a_i / x_i``, decreasing in ``lambda`` with log-slope
in [-1, -1/2].  Both are well conditioned, so Newton on all of them at once
(in ``ln x_i`` and ``ln lambda``, steps capped far from the root) converges in
a handful of vector passes.

Without power concentration ``r_i(b) = b log2(1 + s_i)`` is linear in ``b``,
``log r_i`` is ``log b`` plus a constant, and the split is equal: callers need
no solver for that case.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pf_phi", "pf_marginal_utility", "pf_shares"]

# Below this SNR the closed forms lose digits to cancellation; the series are exact to ~1e-12 there.
_SERIES_X = 1e-4
_TOL = 1e-13
_FLOOR = 1e-9
_MAX_ITER = 100
_MAX_STEP = 1.0


def pf_phi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phi(x), phi'(x)) for SNRs x > 0 on the share (any shape)."""
    x = np.asarray(x, dtype=float)
    small = x < _SERIES_X
    if not small.any():
        return _phi_closed(x)
    phi, dphi = _phi_closed(np.where(small, 1.0, x))  # keep the closed form away from 0/0
    phi_s = x * x / 2.0 - 5.0 * x**3 / 12.0 + 3.0 * x**4 / 8.0
    dphi_s = x - 5.0 * x * x / 4.0 + 3.0 * x**3 / 2.0
    return np.where(small, phi_s, phi), np.where(small, dphi_s, dphi)


def _phi_closed(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phi, phi') in closed form, for x >= _SERIES_X."""
    log1p = np.log1p(x)
    d = (1.0 + x) * log1p
    return x - x * x / d, 1.0 - x * (2.0 * d - x * (log1p + 1.0)) / (d * d)


def pf_marginal_utility(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """r_i'(b_i) / r_i(b_i) [1/Hz] for r_i(b) = b log2(1 + a_i / b); a, b > 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return pf_phi(a / b)[0] / a


def _first_guess(c: np.ndarray) -> np.ndarray:
    # phi ~ x^2 / 2 for small x and ~ x for large x.
    return np.maximum(np.sqrt(2.0 * c), c)


def pf_shares(a: np.ndarray, bandwidth_hz: float, log_lambda_hint: float | None = None) -> tuple[np.ndarray, float]:
    """The proportional-fair split of ``bandwidth_hz`` and ln of its multiplier.

    a : [n] ``s_i B``, full-band SNR times the band [Hz] (divided by any SNR gap);
        users with ``a_i <= 0`` have no rate on any share and get none
    log_lambda_hint : ln(lambda) of a nearby problem (e.g. the previous solve), to start from

    Returns (b, ln lambda): b : [n] shares [Hz], summing to ``bandwidth_hz`` over
    the users with ``a_i > 0``; ln lambda is nan when fewer than two users compete.
    """
    a = np.asarray(a, dtype=float)
    if not bandwidth_hz > 0:
        raise ValueError(f"bandwidth_hz must be > 0, got {bandwidth_hz}")
    b = np.zeros(a.shape)
    live = a > 0
    n = int(live.sum())
    if n <= 1:
        b[live] = bandwidth_hz
        return b, float("nan")
    al = a[live]
    if log_lambda_hint is not None and np.isfinite(log_lambda_hint):
        t = float(log_lambda_hint)
    else:  # the mean marginal utility of the equal split
        t = float(np.log(np.mean(pf_phi(n * al / bandwidth_hz)[0] / al)))
    log_a, log_bw = np.log(al), np.log(bandwidth_hz)
    u = np.log(_first_guess(np.exp(t) * al))
    # Newton on the whole KKT system at once: phi(x_i) = lambda a_i in ln x_i
    # and ln(sum b_i) = ln B in ln lambda; the inner equations are diagonal, so
    # eliminating them leaves one scalar equation for the step in ln lambda.
    last_step = np.inf
    add = np.add.reduce  # a sum without ndarray.sum's Python wrappers: ~25 users, a few passes per solve
    for _ in range(_MAX_ITER):
        x = np.exp(u)
        # pf_phi without its checks where no SNR needs the series: the same floats.
        phi, dphi = pf_phi(x) if x.min() < _SERIES_X else _phi_closed(x)
        elasticity = x * dphi / phi
        resid = np.log(phi) - t - log_a
        share = al / x
        total = float(add(share))
        f = np.log(total) - log_bw
        w = share / elasticity
        dt = (total * f + float(add(w * resid))) / float(add(w))
        du = (dt - resid) / elasticity
        # Far from the root a full step can overshoot: at most a factor e per step.
        step = max(abs(dt), float(np.abs(du).max()))
        scale = 1.0 if step <= _MAX_STEP else _MAX_STEP / step
        u, t = u + scale * du, t + scale * dt
        # Converged, or stopped shrinking at the rounding floor of the sums.
        if step < _TOL or (step < _FLOOR and step > 0.5 * last_step):
            break
        last_step = step
    else:
        raise RuntimeError(f"proportional-fair split did not converge for {n} users (last step {step:.3g})")
    share = al / np.exp(u)
    total = float(share.sum())
    b[live] = share * (bandwidth_hz / total)
    return b, t

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
in [-1, -1/2]; Newton in ``ln lambda``, kept inside a bracket, finds the root.
Both loops are well conditioned, so a solve costs a handful of vector passes.

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
_MAX_ITER = 100


def pf_phi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phi(x), phi'(x)) for SNRs x > 0 on the share (any shape)."""
    x = np.asarray(x, dtype=float)
    small = x < _SERIES_X
    xs = np.where(small, 1.0, x)  # keep the closed form away from 0/0
    log1p = np.log1p(xs)
    d = (1.0 + xs) * log1p
    phi = xs - xs * xs / d
    dphi = 1.0 - xs * (2.0 * d - xs * (log1p + 1.0)) / (d * d)
    phi_s = x * x / 2.0 - 5.0 * x**3 / 12.0 + 3.0 * x**4 / 8.0
    dphi_s = x - 5.0 * x * x / 4.0 + 3.0 * x**3 / 2.0
    return np.where(small, phi_s, phi), np.where(small, dphi_s, dphi)


def pf_marginal_utility(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """r_i'(b_i) / r_i(b_i) [1/Hz] for r_i(b) = b log2(1 + a_i / b); a, b > 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return pf_phi(a / b)[0] / a


def _snr_for(c: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """x with phi(x) = c (c > 0), by Newton in ln x from x0."""
    u, log_c = np.log(x0), np.log(c)
    for _ in range(_MAX_ITER):
        x = np.exp(u)
        phi, dphi = pf_phi(x)
        step = (np.log(phi) - log_c) * phi / (x * dphi)
        u = u - step
        if np.max(np.abs(step)) < _TOL:
            break
    return np.exp(u)


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
    # At the optimum some user holds at least B/n and every user less than B.
    lo = float(np.log(np.max(pf_phi(al / bandwidth_hz)[0] / al)))
    hi = float(np.log(np.max(pf_phi(n * al / bandwidth_hz)[0] / al)))
    t = log_lambda_hint if log_lambda_hint is not None and lo < log_lambda_hint < hi else 0.5 * (lo + hi)
    x = _first_guess(np.exp(t) * al)
    log_bw = np.log(bandwidth_hz)
    for _ in range(_MAX_ITER):
        c = np.exp(t) * al
        x = _snr_for(c, x)
        share = al / x
        total = float(share.sum())
        f = np.log(total) - log_bw
        if abs(f) < _TOL:
            break
        if f > 0:
            lo = t
        else:
            hi = t
        phi, dphi = pf_phi(x)
        slope = -float((share * phi / (x * dphi)).sum()) / total
        t_new = t - f / slope
        # Newton left the bracket (it cannot in exact arithmetic, but guard anyway): bisect.
        t = t_new if lo < t_new < hi else 0.5 * (lo + hi)
        x = _first_guess(np.exp(t) * al) if not lo < t_new < hi else x
    b[live] = share * (bandwidth_hz / total)
    return b, t

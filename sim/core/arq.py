"""ARQ outcomes of synchronous rounds from uniforms drawn per client and round: one client or all at once.

The model is :func:`sim.core.medium.arq_attempts`'s: each packet is tried up to
``M`` times, each try lost with probability ``p``; the payload fails at the
first packet that exhausts its tries.  The index of that packet is
geometric with parameter ``p^M``; the retries of the packets that got
through are thinned level by level, the number with at least ``j`` retries
binomial among those with at least ``j - 1``.  Here every such draw is the
inverse CDF of one uniform, so a round's draws are a fixed block of
``2M - 1`` uniforms per client (:func:`arq_width`), drawn at the round start
from the client's own stream whatever the client then sends.  Hence

- the outcome of a client does not depend on the order in which the clients
  are drawn, nor on how many there are (common random numbers across
  algorithms and populations);
- :func:`arq_many` (numpy, all clients of a round) and :func:`arq_one` (one
  client, plain floats) make the same floating-point operations in the same
  order and give the same outcomes, which lets the event path and the
  closed-form round driver share their records byte for byte.

A binomial ``Bin(n, q)`` is inverted by a sequential search of its CDF: from
0 with ``P(0) = (1 - q)^n`` while ``n q < 30`` (the common case: a few
retries among many packets), else from the mode, whose CDF comes from
:func:`scipy.special.bdtr`.  Transcendental functions are numpy's in both
forms (a numpy scalar takes the same loop as an array element).
"""

from __future__ import annotations

import math

import numpy as np

from sim.core.medium import ArqOutcome, arq_packets

__all__ = ["arq_width", "ArqTables", "arq_many", "arq_one"]

# Below this n q the search starts at 0, above it at the mode (P(0) would underflow).
_SEARCH_FROM_ZERO = 30.0


def arq_width(max_attempts: int) -> int:
    """Uniforms per client and round: the first failing packet, then two thinnings of M - 1 levels."""
    return 2 * max_attempts - 1


class ArqTables:
    """A round's per-client constants of the ARQ draw, from each client's try-loss probability.

    error_rate : [m] probability that one try of one packet fails
    u : [m, arq_width(M)] the clients' uniforms for the round
    """

    def __init__(self, error_rate: np.ndarray, max_attempts: int, u: np.ndarray) -> None:
        p = np.asarray(error_rate, dtype=float)
        if np.any(~(p >= 0.0) | (p > 1.0)):
            raise ValueError(f"error_rate must be in [0, 1], got {p[~(p >= 0.0) | (p > 1.0)][0]}")
        m = max_attempts
        self.p, self.max_attempts, self.u = p, m, np.asarray(u, dtype=float)
        # The per-packet constants depend on p alone: computed once per distinct error rate (one, often, when
        # the rate model is error-free and the loss rate fixed), element by element the same floats.
        n_rows = p.shape[0]
        one = n_rows > 1 and p.min() == p.max()
        if one:
            uniq, inverse = p[:1], None
        else:
            uniq, inverse = np.unique(p, return_inverse=True) if n_rows > 64 else (p, None)
            if inverse is not None and uniq.size * 4 > n_rows:
                uniq, inverse = p, None
        p_fail = uniq**m
        with np.errstate(divide="ignore", invalid="ignore"):
            log_keep = np.log1p(-p_fail)
            j = np.arange(1, m)
            pj = uniq[:, None] ** j  # p^j, j = 1 .. M-1
            pj1 = uniq[:, None] ** (j - 1)
            # P(at least j retries | at least j-1, the packet got through within M tries)
            q = (pj - p_fail[:, None]) / (pj1 - p_fail[:, None])
        inner = (uniq > 0.0) & (uniq < 1.0)
        q = np.where(inner[:, None], q, 0.0)
        with np.errstate(divide="ignore"):
            log_q0 = np.log1p(-q)  # log P(0) per packet
            ratio = q / (1.0 - q)
        # The one error rate's per-level (q, log P(0), ratio), or None when they differ.
        self.one = (q[0], log_q0[0], ratio[0]) if one else None
        if one:  # read-only views of the one row
            p_fail, log_keep = np.broadcast_to(p_fail, (n_rows,)), np.broadcast_to(log_keep, (n_rows,))
            q, log_q0, ratio = (np.broadcast_to(a, (n_rows, m - 1)) for a in (q, log_q0, ratio))
        elif inverse is not None:
            inverse = inverse.reshape(-1)
            p_fail, log_keep, q, log_q0, ratio = p_fail[inverse], log_keep[inverse], q[inverse], log_q0[inverse], ratio[inverse]
        self.q, self.log_q0, self.ratio = q, log_q0, ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            # floor(log(1 - u0) / log(1 - p^M)): good packets before the first that fails (inf: none fails).
            good = np.floor(np.log1p(-self.u[:, 0]) / log_keep)
        self.good = np.where((p_fail > 0.0) & (p < 1.0), good, math.inf)


def _bdtr(x: int, n: int, q: float) -> float:
    from scipy.special import bdtr

    return float(bdtr(x, n, np.float64(q)))


def _log_pmf(x: np.ndarray | float, n: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
    from scipy.special import gammaln

    return np.asarray(
        gammaln(np.add(n, 1.0)) - gammaln(np.add(x, 1.0)) - gammaln(np.subtract(n, x) + 1.0)
        + np.multiply(x, np.log(q)) + np.multiply(np.subtract(n, x), np.log1p(np.negative(q))),
        dtype=float,
    )


def _binv_many(u: np.ndarray, n: np.ndarray, q: np.ndarray | float, log_q0: np.ndarray | float,
               ratio: np.ndarray | float) -> np.ndarray:
    """Bin(n, q) by inversion of ``u`` [m]; n [m] int64; q, log_q0, ratio [m] or one float for all."""
    x = np.zeros(n.shape[0], dtype=np.int64)
    live = (n > 0) & (q > 0.0)
    small = live & (n * q < _SEARCH_FROM_ZERO)
    pmf = np.where(small, np.exp(np.where(small, n * log_q0, 0.0)), 0.0)
    # The search, on the values still searching only (fewer at every step; x < n holds while x = 0).
    at = np.flatnonzero(small & (pmf < u))
    if at.size:
        rs = ratio[at] if isinstance(ratio, np.ndarray) else ratio
        xs, ns, us = np.zeros(at.size, dtype=np.int64), n[at], u[at]
        ps = pmf[at]
        cs = ps.copy()
        while at.size:
            xs += 1
            ps = ps * ((ns - xs + 1) / xs * rs)
            cs = cs + ps
            go = (cs < us) & (xs < ns)
            if not go.all():
                x[at[~go]] = xs[~go]
                at, xs, ns, us, ps, cs = at[go], xs[go], ns[go], us[go], ps[go], cs[go]
                if isinstance(rs, np.ndarray):
                    rs = rs[go]
    large = live & ~small
    if large.any():
        idx = np.flatnonzero(large)
        qs, lq, rs_all = (np.broadcast_to(a, n.shape) for a in (q, log_q0, ratio))
        for k in idx.tolist():  # rare: thousands of retried packets in one payload
            x[k] = _binv_one(float(u[k]), int(n[k]), float(qs[k]), float(lq[k]), float(rs_all[k]))
    return x


def _binv_one(u: float, n: int, q: float, log_q0: float, ratio: float) -> int:
    """Bin(n, q) by inversion of ``u``; :func:`_binv_many`'s arithmetic for one value."""
    if n <= 0 or q <= 0.0:
        return 0
    if n * q < _SEARCH_FROM_ZERO:
        pmf = float(np.exp(np.float64(n * log_q0)))
        cdf, x = pmf, 0
        while cdf < u and x < n:
            x += 1
            pmf = pmf * ((n - x + 1) / x * ratio)
            cdf = cdf + pmf
        return x
    x = min(max(int(math.floor((n + 1) * q)), 0), n)
    cdf = _bdtr(x, n, q)
    pmf = float(np.exp(_log_pmf(np.float64(x), np.float64(n), np.float64(q))))
    if cdf < u:
        while cdf < u and x < n:
            x += 1
            pmf = pmf * ((n - x + 1) / x * ratio)
            cdf = cdf + pmf
        return x
    while x > 0 and cdf - pmf >= u:
        cdf = cdf - pmf
        pmf = pmf * (x / (n - x + 1) / ratio)
        x -= 1
    return x


def _extra_many(packets: np.ndarray, t: ArqTables, rows: np.ndarray, first_col: int | np.ndarray) -> np.ndarray:
    """Retries of ``packets`` [m] good packets of clients ``rows``, thinned with uniforms from ``first_col`` [m] on."""
    extra = np.zeros(packets.shape[0], dtype=np.int64)
    # Each level draws only for the payloads that still have retried packets (fewer at every level).
    at = np.flatnonzero(packets > 0)
    alive = packets[at].astype(np.int64)
    for level in range(t.max_attempts - 1):
        if not at.size:
            break
        r = rows[at]
        col = first_col + level if isinstance(first_col, int) else first_col[at] + level
        if t.one is not None:  # one error rate: its constants as floats, not gathered per row
            q, log_q0, ratio = (float(a[level]) for a in t.one)
            alive = _binv_many(t.u[r, col], alive, q, log_q0, ratio)
        else:
            alive = _binv_many(t.u[r, col], alive, t.q[r, level], t.log_q0[r, level], t.ratio[r, level])
        extra[at] += alive
        more = alive > 0
        at, alive = at[more], alive[more]
    return extra


def _extra_one(packets: int, t: ArqTables, row: int, first_col: int) -> int:
    extra, alive = 0, packets
    for level in range(t.max_attempts - 1):
        if alive == 0:
            break
        alive = _binv_one(float(t.u[row, first_col + level]), alive, float(t.q[row, level]),
                          float(t.log_q0[row, level]), float(t.ratio[row, level]))
        extra += alive
    return extra


def arq_many(bits: np.ndarray, packet_bits: int, t: ArqTables, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(attempts, air_bits, ok) [m] for payloads of ``bits`` [m] by the clients at ``rows`` of ``t``."""
    rows = np.arange(t.p.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    bits = np.asarray(bits, dtype=np.int64)
    m, big_m = bits.shape[0], t.max_attempts
    npk = np.where(bits > 0, -(-bits // packet_bits), 0)
    last_bits = bits - (npk - 1) * packet_bits
    p = t.p[rows]
    attempts = np.where(p == 0.0, npk, 0)
    air = np.where(p == 0.0, bits, 0)
    ok = np.ones(m, dtype=bool)
    dead = (p == 1.0) & (npk > 0)
    first = np.where(npk > 1, packet_bits, last_bits)
    attempts[dead], air[dead], ok[dead] = big_m, (first * big_m)[dead], False
    draw = (npk > 0) & (p > 0.0) & (p < 1.0)
    good = t.good[rows]
    # The payload stops at a failing packet before the (shorter) last one.
    stops = draw & (good < npk - 1)
    n_stop = np.where(stops, good, 0).astype(np.int64)
    rest = draw & ~stops
    last_fails = rest & (good == npk - 1)
    # In one search: the good packets' retries of a payload that stops or that goes on to its last
    # packet (disjoint clients, uniforms from column 1), and the last packet's (uniforms from column M).
    searched = _extra_many(
        np.concatenate([np.where(stops, n_stop, np.where(rest, npk - 1, 0)), np.where(rest & ~last_fails, 1, 0)]),
        t, np.concatenate([rows, rows]), np.repeat(np.array([1, big_m]), m),
    )
    extra = searched[:m]
    tries = n_stop + extra + big_m
    attempts[stops], air[stops], ok[stops] = tries[stops], (tries * packet_bits)[stops], False
    body = (npk - 1) + extra
    last = np.where(last_fails, big_m, 1 + searched[m:])
    attempts[rest] = (body + last)[rest]
    air[rest] = (body * packet_bits + last * last_bits)[rest]
    ok[rest] = ~last_fails[rest]
    return attempts, air, ok


def arq_one(bits: int, packet_bits: int, t: ArqTables, row: int) -> ArqOutcome:
    """One client's outcome, as :func:`arq_many` gives it for that client."""
    npk = arq_packets(bits, packet_bits)
    p, big_m = float(t.p[row]), t.max_attempts
    if npk == 0:
        return ArqOutcome(0, 0, True)
    if p == 0.0:
        return ArqOutcome(npk, int(bits), True)
    last_bits = int(bits) - (npk - 1) * packet_bits
    if p == 1.0:
        first = packet_bits if npk > 1 else last_bits
        return ArqOutcome(big_m, first * big_m, False)
    good = float(t.good[row])
    if good < npk - 1:
        n_stop = int(good)
        tries = n_stop + _extra_one(n_stop, t, row, 1) + big_m
        return ArqOutcome(tries, tries * packet_bits, False)
    body = npk - 1 + _extra_one(npk - 1, t, row, 1)
    last_fails = good == npk - 1
    last = big_m if last_fails else 1 + _extra_one(1, t, row, big_m)
    return ArqOutcome(body + last, body * packet_bits + last * last_bits, not last_fails)

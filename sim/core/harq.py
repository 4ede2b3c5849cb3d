"""HARQ with chase combining: retries whose error rate falls with the combined SNR.

Plain ARQ (:func:`sim.core.medium.arq_attempts`) retries a packet at the same
error rate p each time.  With chase combining (``medium.combining: chase``)
the receiver keeps every copy and decodes try k at k times the SNR, so the
probability that a packet is still not through after k tries is
``S_k = BLER(k s)`` for the MCS chosen at s (:func:`channels.rate.combined_bler`);
an extra loss q per try (``packet_error_rate``, Gilbert-Elliott) that is
independent of the SNR multiplies in: try k fails, given tries 1 .. k-1
did, with ``p_k = 1 - (1 - BLER(k s) / BLER((k-1) s)) (1 - q)``.
"""

from __future__ import annotations

import numpy as np

from sim.core.medium import ArqOutcome, arq_packets

__all__ = ["harq_attempts"]


def _extra_tries(packets: int, survive: np.ndarray, rng: np.random.Generator) -> int:
    """Retransmissions of ``packets`` packets that all got through within M tries.

    survive : [M + 1] S_j = P(not through after j tries), S_0 = 1.  For one
    such packet P(at least j retries) = (S_j - S_M) / (1 - S_M); the packets
    with at least j retries are thinned from those with j - 1 by one binomial draw.
    """
    m = survive.shape[0] - 1
    s_m = survive[m]
    extra, alive = 0, packets
    for j in range(1, m):
        if alive == 0:
            break
        den = survive[j - 1] - s_m
        q = (survive[j] - s_m) / den if den > 0 else 0.0
        alive = int(rng.binomial(alive, min(max(q, 0.0), 1.0)))
        extra += alive
    return extra


def harq_attempts(bits: int, packet_bits: int, error_rates: np.ndarray, rng: np.random.Generator) -> ArqOutcome:
    """Send ``bits`` in packets of ``packet_bits``; try k of a packet fails with ``error_rates[k-1]``
    given that tries 1 .. k-1 failed (``len(error_rates)`` tries at most).

    As :func:`sim.core.medium.arq_attempts`, which it equals for constant error
    rates in law: the payload fails, and the sender stops, at the first packet
    that exhausts its tries; a packet is through within M tries with
    probability 1 - S_M, S_M the product of the error rates.
    """
    p = np.asarray(error_rates, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any((p < 0.0) | (p > 1.0)):
        raise ValueError(f"error_rates must be a non-empty 1-D array in [0, 1], got {error_rates!r}")
    npk = arq_packets(bits, packet_bits)
    if npk == 0:
        return ArqOutcome(0, 0, True)
    m = p.shape[0]
    survive = np.concatenate([[1.0], np.cumprod(p)])
    p_fail = float(survive[m])
    last_bits = int(bits) - (npk - 1) * packet_bits
    if p_fail >= 1.0:
        first = packet_bits if npk > 1 else last_bits
        return ArqOutcome(m, first * m, False)
    first_fail = int(rng.geometric(p_fail)) if p_fail > 0.0 else npk + 1
    if first_fail < npk:
        tries = first_fail - 1 + _extra_tries(first_fail - 1, survive, rng) + m
        return ArqOutcome(tries, tries * packet_bits, False)
    body = npk - 1 + _extra_tries(npk - 1, survive, rng)
    last = m if first_fail == npk else 1 + _extra_tries(1, survive, rng)
    return ArqOutcome(body + last, body * packet_bits + last * last_bits, first_fail > npk)

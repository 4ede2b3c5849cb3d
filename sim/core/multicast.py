"""Multicast downlink: one transmission that every receiver of a group must get.

With ``medium.downlink_mode: multicast`` the clients of a cell whose download
is the round's broadcast payload itself form one group: the base station
sends that payload once, at the rate its weakest receiver supports (the
group's SNR is the lowest of its receivers', per coherence block when the
fading moves within the round), and each packet is repeated until every
receiver still in the group has it or ``max_attempts`` tries are spent
(:func:`multicast_arq`).  A receiver that misses a packet after the last try
is dropped from the group (``downlink_failure``); the others go on.
Downloads that differ per client (a one-time sub-LLM, a per-shape adapter)
stay unicast.

On the medium a group is one virtual receiver, index ``num_clients + g``,
appended to the downlink's SNR arrays (:func:`extend_for_groups`): every
sharing policy then treats it as one transfer among the round's others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.medium import arq_packets

__all__ = ["MulticastOutcome", "multicast_arq", "multicast_groups", "extend_for_groups", "extend_blocks"]


@dataclass(frozen=True)
class MulticastOutcome:
    """What multicast ARQ did to one payload.

    attempts : packet transmissions in total (each heard by the whole group)
    air_bits : bits put on the air, retransmissions included
    ok : [receivers] every packet reached this receiver within ``max_attempts`` tries
    """

    attempts: int
    air_bits: int
    ok: np.ndarray


def _clean_tries(packets: int, p: np.ndarray, max_attempts: int, rng: np.random.Generator) -> int:
    """Transmissions of ``packets`` packets that every receiver got within ``max_attempts`` tries.

    One packet is sent until its last receiver has it: T = max_i A_i with A_i
    geometric (loss p_i), here conditioned on every A_i <= M, so
    P(T <= t) = prod_i (1 - p_i^t) / (1 - p_i^M); one multinomial draw over
    t = 1 .. M counts how many packets needed t tries.
    """
    if packets <= 0:
        return 0
    t = np.arange(1, max_attempts + 1)
    cdf = np.prod((1.0 - p[None, :] ** t[:, None]) / (1.0 - p[None, :] ** max_attempts), axis=1)
    pmf = np.diff(np.concatenate([[0.0], cdf]))
    pmf = np.clip(pmf, 0.0, None)
    counts = rng.multinomial(packets, pmf / pmf.sum())
    return int((counts * t).sum())


def _first_failures(p_fail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[receivers] bool: who failed a packet, given that at least one did (independent losses p_fail)."""
    survive_before = np.concatenate([[1.0], np.cumprod(1.0 - p_fail)[:-1]])
    w = p_fail * survive_before  # P(receiver j is the first to fail)
    j = int(rng.choice(p_fail.shape[0], p=w / w.sum()))
    fails = np.zeros(p_fail.shape[0], dtype=bool)
    fails[j] = True
    fails[j + 1 :] = rng.random(p_fail.shape[0] - j - 1) < p_fail[j + 1 :]
    return fails


def multicast_arq(
    bits: int, packet_bits: int, error_rate: np.ndarray, max_attempts: int, rng: np.random.Generator
) -> MulticastOutcome:
    """Send ``bits`` once to a group whose receiver i loses each try with ``error_rate[i]``.

    Each packet is sent until every receiver still in the group has it, at
    most ``max_attempts`` times; a receiver still missing it then is out
    (its ``ok`` is False) and later packets no longer wait for it; when no
    receiver is left the sender stops.  Receiver i gets the payload with
    probability (1 - p_i^M)^packets, as over its own unicast.  Exact, with
    O(M + receivers) work per receiver dropped, whatever the size.

    error_rate : [receivers] loss probability of one try at each receiver
    """
    p = np.asarray(error_rate, dtype=float)
    if p.ndim != 1 or np.any((p < 0.0) | (p > 1.0)):
        raise ValueError(f"error_rate must be a 1-D array in [0, 1], got {error_rate!r}")
    ok = np.ones(p.shape[0], dtype=bool)
    npk = arq_packets(bits, packet_bits)
    if npk == 0 or p.shape[0] == 0:
        return MulticastOutcome(0, 0, ok)
    m = max_attempts
    last_bits = int(bits) - (npk - 1) * packet_bits
    attempts = air = done = 0
    while done < npk and ok.any():
        alive = np.flatnonzero(ok)
        pa = p[alive]
        p_fail = pa**m
        q = 1.0 - float(np.prod(1.0 - p_fail))  # some receiver misses this packet after M tries
        left = npk - done
        first_bad = int(rng.geometric(q)) if q > 0.0 else left + 1  # among the remaining packets, 1-based
        clean = min(first_bad - 1, left)
        # The last (shorter) packet is drawn apart when it is among the clean ones.
        has_last = done + clean == npk
        body = _clean_tries(clean - 1 if has_last else clean, pa, m, rng)
        tail = _clean_tries(1, pa, m, rng) if has_last else 0
        attempts += body + tail
        air += body * packet_bits + tail * last_bits
        done += clean
        if first_bad <= left:
            size = last_bits if done == npk - 1 else packet_bits
            attempts += m
            air += m * size
            ok[alive[_first_failures(p_fail, rng)]] = False
            done += 1
    return MulticastOutcome(attempts, air, ok)


def multicast_groups(receivers: np.ndarray, site: np.ndarray | None) -> list[np.ndarray]:
    """One group per cell of the clients in ``receivers`` (ascending); cells without one have none."""
    receivers = np.asarray(receivers, dtype=np.int64)
    if receivers.size == 0:
        return []
    if site is None:
        return [receivers]
    cells = site[receivers]
    return [receivers[cells == c] for c in np.unique(cells)]


def extend_for_groups(
    snr_linear: np.ndarray, extra_loss: np.ndarray | float, groups: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The downlink's [num_clients + num_groups] SNR and extra loss, one virtual receiver per group.

    A group's SNR is its weakest receiver's; its extra loss is 0 (each
    receiver's own is applied in :func:`multicast_arq`).
    """
    snr = np.asarray(snr_linear, dtype=float)
    extra = np.broadcast_to(np.asarray(extra_loss, dtype=float), snr.shape)
    weakest = np.array([snr[g].min() for g in groups])
    return np.concatenate([snr, weakest]), np.concatenate([extra, np.zeros(len(groups))])


def extend_blocks(gain_ratio: np.ndarray, snr_linear: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """[num_clients + num_groups, num_blocks]: a group's ratio follows its weakest receiver in each block."""
    snr = np.asarray(snr_linear, dtype=float)
    rows = [(snr[g, None] * gain_ratio[g]).min(axis=0) / snr[g].min() for g in groups]
    return np.vstack([gain_ratio, *rows]) if rows else gain_ratio

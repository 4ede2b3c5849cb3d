"""One round of an ``ofdma`` or ``proportional_fair`` medium without SimPy: its re-sharing, event by event.

Processor sharing has no closed form per transfer once the rates differ per
client and depend on how many share (power concentration, the MCS
staircase, the one-PRB cap): each start and each completion re-splits the
band.  :func:`fluid_transfers` walks those events in time order over arrays
-- the same float operations, in the same order, as
:class:`sim.core.medium.Ofdma`'s wake-ups -- given every transfer's start in
advance (the closed-form driver knows them: downloads start at the round
start, uploads when each client's compute ends).  It asks the medium itself
for the rates (``_active_rates``), so ``proportional_fair``'s warm-started
solver sees the same sequence of problems as on the event path.

What the SimPy clock decides, reproduced here:

- transfers that start at one instant are admitted together, after any
  wake-up due at that instant;
- a wake-up lands at ``now + dt`` (SimPy adds the delay to the clock);
- at the close the medium's ``abort`` admits what started at that instant,
  completes what is within tolerance and cuts the rest; a completion at the
  close itself (by a wake-up or by the abort) is never seen by its client,
  whose process is interrupted first.

The cost is one O(active) vector update per start and per completion: O(n^2)
per round, as on the event path, without the events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.core.medium import _EPS_BITS

__all__ = ["FluidOutcome", "fluid_transfers"]


@dataclass
class FluidOutcome:
    """What the medium did to each transfer of one round (arrays [m], in the order given).

    end_s : completion time [s]; ``limit_s`` for one completed at the close, inf for one cut
    sent_bits : bits on the air by the close (the whole transfer when it completed)
    seq : rank in which the completions fired as events (-1: zero-bit, or completed at the close)
    """

    end_s: np.ndarray
    sent_bits: np.ndarray
    seq: np.ndarray


def fluid_transfers(
    medium: Any, clients: np.ndarray, start_s: np.ndarray, bits: np.ndarray, limit_s: float
) -> FluidOutcome:
    """Run ``medium``'s (an :class:`~sim.core.medium.Ofdma`) fluid sharing over one round's transfers.

    clients, start_s, bits : [m] the transfers in the order they call
        ``transmit`` (``start_s`` non-decreasing); bits are the air bits
    limit_s : the round's close if it comes at the deadline (an earlier close
        finds every transfer through, which the caller checks)
    """
    # A zero rate (a link that cannot move) divides by zero in the next-completion step: inf, as meant.
    # One errstate for the walk rather than one per event, which cost a tenth of its time.
    with np.errstate(divide="ignore"):
        return _walk(medium, clients, start_s, bits, limit_s)


def _walk(medium: Any, clients: np.ndarray, start_s: np.ndarray, bits: np.ndarray, limit_s: float) -> FluidOutcome:
    m = clients.shape[0]
    bits_f = np.asarray(bits, dtype=float)
    end = np.full(m, math.inf)
    sent = bits_f.copy()
    seq = np.full(m, -1, dtype=np.int64)
    zero = bits_f <= _EPS_BITS
    end[zero] = start_s[zero]
    go = np.flatnonzero(~zero)
    starts = start_s[go]
    # Groups of transfers that start at the same instant (one admission each).
    cut_at = np.flatnonzero(np.diff(starts) != 0) + 1
    bounds = np.concatenate([[0], cut_at, [go.shape[0]]]).astype(np.int64).tolist() if go.shape[0] else [0]
    group_t = [float(starts[b]) for b in bounds[:-1]]
    # The active transfers' state as the rows of one array (one copy per admission or completion,
    # not one per quantity), in the medium's order: admitted at the end, completions taken out.
    REM, RATE, TOL, SNR, INR, IDX = range(6)
    joining = np.zeros((6, go.shape[0]))
    joining[REM] = bits_f[go]
    joining[TOL] = _EPS_BITS + 1e-12 * bits_f[go]
    joining[SNR] = np.asarray(medium.snr_linear, dtype=float)[clients[go]]
    if medium.inr is not None:
        joining[INR] = np.asarray(medium.inr, dtype=float)[clients[go]]
    joining[IDX] = go
    # I / N = 0 as a scalar gives the same floats as a row of zeros (x * 1 / 1); the split's solver wants the row.
    with_inr = medium.inr is not None or medium.sharing == "proportional_fair"
    state = np.empty((6, go.shape[0]))
    k = 0
    active_rates = medium._active_rates
    t_last = -math.inf
    wake = math.inf
    rank = 0
    g, groups = 0, len(group_t)

    while True:
        s = group_t[g] if g < groups else math.inf
        if wake <= s and wake <= limit_s:
            now = wake
            dt = now - t_last
            if dt > 0 and k:
                state[REM, :k] -= state[RATE, :k] * dt
            t_last = now
            if k:
                rem = state[REM, :k]
                finished = rem <= np.maximum(state[TOL, :k], state[RATE, :k] * (4.0 * math.ulp(now)))
                if finished.any():
                    done = state[IDX, :k][finished].astype(np.int64)
                    end[done] = now
                    seq[done] = np.arange(rank, rank + done.shape[0])
                    rank += done.shape[0]
                    kept = state[:, :k][:, ~finished]
                    k = kept.shape[1]
                    state[:, :k] = kept
        elif s < limit_s:
            now = s
            dt = now - t_last
            if dt > 0 and k:
                state[REM, :k] -= state[RATE, :k] * dt
            t_last = now
            a, b = bounds[g], bounds[g + 1]
            state[:, k:k + b - a] = joining[:, a:b]
            k += b - a
            g += 1
        else:
            break
        # A new split among the active transfers, and the next completion.
        if not k:
            wake = math.inf
            continue
        rates = active_rates(state[SNR, :k], state[INR, :k] if with_inr else 0.0)
        state[RATE, :k] = rates
        step = float((state[REM, :k] / rates).min())
        wake = now + max(step, 0.0) if math.isfinite(step) else math.inf

    # The close at limit_s: what starts then is admitted, what is through completes, the rest is cut.
    dt = limit_s - t_last
    if dt > 0 and k:
        state[REM, :k] -= state[RATE, :k] * dt
    while g < groups and group_t[g] == limit_s:
        a, b = bounds[g], bounds[g + 1]
        state[:, k:k + b - a] = joining[:, a:b]
        k += b - a
        g += 1
    if k:
        rem = state[REM, :k]
        finished = rem <= np.maximum(state[TOL, :k], state[RATE, :k] * (4.0 * math.ulp(limit_s)))
        idx = state[IDX, :k].astype(np.int64)
        end[idx[finished]] = limit_s
        left = idx[~finished]
        sent[left] = bits_f[left] - np.maximum(0.0, rem[~finished])
    return FluidOutcome(end, sent, seq)

"""One round of an ``ofdma`` or ``proportional_fair`` medium without SimPy: its re-sharing, event by event.

Processor sharing has no closed form per transfer once the rates differ per
client and depend on how many share (power concentration, the MCS
staircase, the one-PRB cap): each start and each completion re-splits the
band.  :func:`fluid_transfers` walks those events in time order over arrays
-- the same float operations, in the same order, as
:class:`sim.core.processor_sharing.Ofdma`'s wake-ups -- given every transfer's start in
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

The cost is one O(active) update per start and per completion.  While few
transfers are active (an uplink whose clients finish computing one by one) a
numpy call costs more than its arithmetic, so the walk keeps them in Python
lists and takes each transfer's rate at ``n`` sharers from a column computed
once per round and ``n`` (:attr:`~sim.core.processor_sharing.Ofdma.rate_per_transfer`:
``ofdma``'s rate of a transfer depends on its own SINR and ``n`` alone, so an
element of a longer array is the same float); past :data:`LIST_MAX` active
transfers it switches to arrays, and back below half of it.  Both forms make
the same float operations (a subtraction, product and division per transfer
are IEEE operations, whatever does them).  ``proportional_fair``'s split
depends on the whole active set, so it stays on arrays and asks the medium.

Where every rate is a full-band rate over ``n`` (a downlink; a capped uplink
with more sharers than PRBs: :meth:`sim.core.processor_sharing.Ofdma.capped_regime`)
the medium keeps the set in virtual time, O(log n) an event
(:class:`sim.core.linear_share.LinearShare`), and so does the walk: it enters
and leaves that form at the same events, with the same conversions.
"""

from __future__ import annotations

import math
from operator import truediv
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.core.linear_share import LinearShare
from sim.core.medium import _EPS_BITS

__all__ = ["FluidOutcome", "fluid_transfers", "LIST_MAX"]

# Active transfers up to which the walk keeps Python lists; it goes back to lists below half of it.  An event
# costs about 0.15 us per transfer in lists and 15 numpy calls in arrays: at 1,000 and 10,000 clients the
# rounds ran as fast with lists up to 305 transfers as up to 128, and 20-40 % slower with 48.
LIST_MAX = 128


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
    """Run ``medium``'s (an :class:`~sim.core.processor_sharing.Ofdma`) fluid sharing over one round's transfers.

    clients, start_s, bits : [m] the transfers in the order they call
        ``transmit`` (``start_s`` non-decreasing); bits are the air bits
    limit_s : the round's close if it comes at the deadline (an earlier close
        finds every transfer through, which the caller checks)
    """
    # A zero rate (a link that cannot move) divides by zero in the next-completion step: inf, as meant.
    # One errstate for the walk rather than one per event, which cost a tenth of its time.
    with np.errstate(divide="ignore", invalid="ignore"):
        return _Walk(medium, clients, start_s, bits).run(limit_s)


def _wake_at(now: float, step: float) -> float:
    """The next wake-up after a split at ``now`` whose next completion is ``step`` away (SimPy adds delays)."""
    return now + max(step, 0.0) if math.isfinite(step) else math.inf


def _min_ratio(rem: list[float], rate: list[float]) -> float:
    """min(rem / rate) as numpy takes it: r / 0 is inf, -inf, or nan for 0 / 0, and a nan is the minimum."""
    steps = [r / q if q else (math.inf if r > 0 else -math.inf if r < 0 else math.nan) for r, q in zip(rem, rate)]
    return math.nan if any(x != x for x in steps) else min(steps)


# The rows of the array form of the active set.
REM, RATE, TOL, SNR, INR, IDX = range(6)
LISTS, ARRAYS, VIRTUAL = "lists", "arrays", "virtual"


class _Walk:
    """The active transfers, in the medium's order (admitted at the end, completions taken out).

    Held in one of three forms, ``form``: Python lists (``rem``, ``rate``,
    ``tol``, ``idx``); the rows of one array (``state[:, :k]``, one copy per
    admission or completion, not one per quantity); or virtual time
    (``share``).  Each form's loop runs events until the set outgrows or
    shrinks out of it, or the walk reaches the close.
    """

    def __init__(self, medium: Any, clients: np.ndarray, start_s: np.ndarray, bits: np.ndarray) -> None:
        m = clients.shape[0]
        self.medium = medium
        self.bits = np.asarray(bits, dtype=float)
        self.end = np.full(m, math.inf)
        self.sent = self.bits.copy()
        self.seq = np.full(m, -1, dtype=np.int64)
        zero = self.bits <= _EPS_BITS
        self.end[zero] = start_s[zero]
        go = np.flatnonzero(~zero)
        # Groups of transfers that start at the same instant (one admission each).
        starts = start_s[go]
        cut_at = np.flatnonzero(np.diff(starts) != 0) + 1
        self.bounds = np.concatenate([[0], cut_at, [go.shape[0]]]).astype(np.int64).tolist() if go.shape[0] else [0]
        self.group_t = [float(starts[b]) for b in self.bounds[:-1]]
        # Every transfer's SINR inputs, indexed as the caller's arrays.
        self.snr = np.asarray(medium.snr_linear, dtype=float)[clients]
        self.inr = None if medium.inr is None else np.asarray(medium.inr, dtype=float)[clients]
        # I / N = 0 as a scalar gives the same floats as a row of zeros (x * 1 / 1); the split's solver wants the row.
        self.with_inr = medium.inr is not None or medium.sharing == "proportional_fair"
        self.joining = np.zeros((6, go.shape[0]))
        self.joining[REM] = self.bits[go]
        self.joining[TOL] = _EPS_BITS + 1e-12 * self.bits[go]
        self.joining[SNR] = self.snr[go]
        if self.inr is not None:
            self.joining[INR] = self.inr[go]
        self.joining[IDX] = go
        self.state = np.empty((6, go.shape[0]))
        self.k = 0
        self.rank = 0
        self.t_last, self.wake, self.g = -math.inf, math.inf, 0
        self.may_list = bool(getattr(medium, "rate_per_transfer", False))
        self.rem: list[float] = []
        self.rate: list[float] = []
        self.tol: list[float] = []
        self.idx: list[int] = []
        self.join_tol = self.joining[TOL].tolist()
        self.tol_top = max(self.join_tol, default=0.0)  # bounds every transfer's completion tolerance
        self.join_rem = self.joining[REM].tolist()
        self.join_idx = go.tolist()
        self.columns: dict[int, tuple[list[float], bool, float]] = {}
        # Virtual time: always for a medium whose rates are linear in the share; for a capped uplink
        # while at least `enter` share (until fewer than `leave`).
        self.share = LinearShare()
        self.linear = bool(getattr(medium, "linear", False))
        self.regime = None if self.linear else getattr(medium, "capped_regime", lambda: None)()
        self.full_rate: list[float] = []
        # Virtual time's completions (key, time, rank), for _flush.
        self.done_keys: list[int] = []
        self.done_at: list[float] = []
        self.done_rank: list[int] = []
        if self.linear or self.regime is not None:
            self.full_rate = medium.full_rates_bps(self.snr, self.inr).tolist()
        self.form = VIRTUAL if self.linear else LISTS if self.may_list else ARRAYS

    # ---------------------------------------------------------------- the walk

    def run(self, limit_s: float) -> FluidOutcome:
        loops = {LISTS: self._walk_lists, ARRAYS: self._walk_arrays, VIRTUAL: self._walk_virtual}
        while not loops[self.form](limit_s):
            pass
        # The close at limit_s, as the medium's abort takes it: what starts then is admitted (the set may go
        # into virtual time), what is through completes (the set may leave it), the rest is cut.
        if self.form == LISTS:
            self._to_arrays()
        groups = len(self.group_t)
        if self.form == VIRTUAL:
            self.share.advance(limit_s)
            while self.g < groups and self.group_t[self.g] == limit_s:
                self._admit_virtual(self.g)
                self.g += 1
        else:
            k, dt = self.k, limit_s - self.t_last
            if dt > 0 and k:
                self.state[REM, :k] -= self.state[RATE, :k] * dt
            while self.g < groups and self.group_t[self.g] == limit_s:
                a, b = self.bounds[self.g], self.bounds[self.g + 1]
                self.state[:, k:k + b - a] = self.joining[:, a:b]
                k += b - a
                self.g += 1
            self.k = k
            if self.regime is not None and k >= self.regime[0]:
                self._to_virtual(limit_s)
        if self.form == VIRTUAL:
            self._complete_virtual(limit_s, at_close=True)
        elif self.k:
            k = self.k
            finished = self.state[REM, :k] <= np.maximum(self.state[TOL, :k],
                                                          self.state[RATE, :k] * (4.0 * math.ulp(limit_s)))
            self.end[self.state[IDX, :k][finished].astype(np.int64)] = limit_s
            kept = self.state[:, :k][:, ~finished]
            self.k = kept.shape[1]
            self.state[:, :self.k] = kept
        if self.form == VIRTUAL:
            for key, left in self.share.cut():
                self.sent[key] = self.bits[key] - left
        elif self.k:
            idx = self.state[IDX, :self.k].astype(np.int64)
            self.sent[idx] = self.bits[idx] - np.maximum(0.0, self.state[REM, :self.k])
        self._flush()
        return FluidOutcome(self.end, self.sent, self.seq)

    def _flush(self) -> None:
        """Virtual time's completions into ``end`` and ``seq`` (each transfer completes once)."""
        if self.done_keys:
            keys = np.array(self.done_keys, dtype=np.int64)
            self.end[keys] = self.done_at
            self.seq[keys] = self.done_rank

    def _walk_arrays(self, limit_s: float) -> bool:
        """Events with the active set as arrays; True at the close, False to go on in another form."""
        state, joining, bounds, group_t = self.state, self.joining, self.bounds, self.group_t
        k, t_last, wake, g, groups = self.k, self.t_last, self.wake, self.g, len(group_t)
        back = LIST_MAX // 2 if self.may_list else -1
        enter = self.regime[0] if self.regime is not None else math.inf
        while True:
            s = group_t[g] if g < groups else math.inf
            if wake <= s and wake <= limit_s:
                now = wake
                dt = now - t_last
                if dt > 0 and k:
                    state[REM, :k] -= state[RATE, :k] * dt
                t_last = now
                if k:
                    finished = state[REM, :k] <= np.maximum(state[TOL, :k], state[RATE, :k] * (4.0 * math.ulp(now)))
                    if finished.any():
                        done = state[IDX, :k][finished].astype(np.int64)
                        self.end[done] = now
                        self.seq[done] = np.arange(self.rank, self.rank + done.shape[0])
                        self.rank += done.shape[0]
                        kept = state[:, :k][:, ~finished]
                        k = kept.shape[1]
                        state[:, :k] = kept
                        if k < back:
                            self.k, self.t_last, self.wake, self.g = k, t_last, wake, g
                            self._to_lists()
                            self.rate, self.wake, _ = self._list_split(self.rem, self.idx, now)
                            return False
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
                if k >= enter:
                    self.k, self.t_last, self.wake, self.g = k, t_last, wake, g
                    self._to_virtual(now)
                    self.wake = _wake_at(now, self.share.step_s())
                    return False
            else:
                self.k, self.t_last, self.wake, self.g = k, t_last, wake, g
                return True
            # A new split among the active transfers, and the next completion.
            wake = self._array_split(k, now)

    def _walk_lists(self, limit_s: float) -> bool:
        """Events with the active set as lists; True at the close, False to go on in arrays."""
        rem, rate, tol, idx = self.rem, self.rate, self.tol, self.idx
        join_rem, join_tol, join_idx = self.join_rem, self.join_tol, self.join_idx
        bounds, group_t, end, seq = self.bounds, self.group_t, self.end, self.seq
        t_last, wake, g, groups, rank = self.t_last, self.wake, self.g, len(group_t), self.rank
        split = self._list_split
        ulp, inf = math.ulp, math.inf
        tol_top = self.tol_top
        top = self._column(len(rate))[2] if rate else 0.0  # the largest rate of the last split's column
        most = min(LIST_MAX, self.regime[0] - 1) if self.regime is not None else LIST_MAX
        while True:
            s = group_t[g] if g < groups else inf
            if wake <= s and wake <= limit_s:
                now = wake
                dt = now - t_last
                if dt > 0 and rem:
                    rem = [r - q * dt for r, q in zip(rem, rate)]
                t_last = now
                if rem:
                    # max(tol, rate * 4 ulp), as the array form takes it; a bound on every such threshold
                    # (the round's largest tol, the column's largest rate) first screens out all but the few
                    # near the end.
                    thr = 4.0 * ulp(now)
                    lim = max(tol_top, top * thr)
                    fin = [j for j, r in enumerate(rem) if r <= lim and (r <= tol[j] or r <= rate[j] * thr)]
                    for j in fin:
                        end[idx[j]] = now
                        seq[idx[j]] = rank
                        rank += 1
                    for j in reversed(fin):
                        del rem[j], rate[j], tol[j], idx[j]
            elif s < limit_s:
                a, b = bounds[g], bounds[g + 1]
                if len(rem) + b - a > most:
                    break  # this start in the array form
                now = s
                dt = now - t_last
                if dt > 0 and rem:
                    rem = [r - q * dt for r, q in zip(rem, rate)]
                t_last = now
                rem += join_rem[a:b]
                rate += [0.0] * (b - a)
                tol += join_tol[a:b]
                idx += join_idx[a:b]
                g += 1
            else:
                self.rem, self.rate, self.tol, self.idx = rem, rate, tol, idx
                self.k, self.t_last, self.wake, self.g, self.rank = len(rem), t_last, wake, g, rank
                return True
            # A new split among the active transfers, and the next completion.
            rate, wake, top = split(rem, idx, now)
        self.rem, self.rate, self.tol, self.idx = rem, rate, tol, idx
        self.k, self.t_last, self.wake, self.g, self.rank = len(rem), t_last, wake, g, rank
        self._to_arrays()
        return False

    def _walk_virtual(self, limit_s: float) -> bool:
        """Events in virtual time; True at the close, False once a capped set is back to remaining bits."""
        share, group_t = self.share, self.group_t
        wake, g, groups = self.wake, self.g, len(group_t)
        while True:
            if g == groups and self.regime is None:  # completions alone from here: one loop in LinearShare
                self.g = g
                for done, now in zip(*share.complete_all(share.t_s, limit_s)):
                    self._record_virtual(done, now, False)
                return True
            s = group_t[g] if g < groups else math.inf
            if wake <= s and wake <= limit_s:
                now = wake
                share.advance(now)
                self.g = g
                if not self._complete_virtual(now):
                    self.t_last = now
                    self.wake = self._array_split(self.k, now)
                    return False
            elif s < limit_s:
                now = s
                share.advance(now)
                self._admit_virtual(g)
                g += 1
            else:
                self.wake, self.g = wake, g
                return True
            wake = _wake_at(now, share.step_s())

    # ------------------------------------------------------------ virtual time

    def _admit_virtual(self, g: int) -> None:
        a, b = self.bounds[g], self.bounds[g + 1]
        keys = self.join_idx[a:b]
        self.share.admit(keys, self.join_rem[a:b], [self.full_rate[i] for i in keys])

    def _complete_virtual(self, now: float, at_close: bool = False) -> bool:
        """Completions at ``now``; False when a capped set then leaves virtual time (now in arrays)."""
        self._record_virtual(self.share.complete(now), now, at_close)
        if self.regime is None or self.share.n >= self.regime[1]:
            return True
        items = self.share.drain()
        k = len(items)
        idx = np.array([key for key, _, _ in items], dtype=np.int64)
        self.state[REM, :k] = [left for _, left, _ in items]
        self.state[RATE, :k] = 0.0
        self.state[TOL, :k] = _EPS_BITS + 1e-12 * self.bits[idx]
        self.state[SNR, :k] = self.snr[idx]
        self.state[INR, :k] = 0.0 if self.inr is None else self.inr[idx]
        self.state[IDX, :k] = idx
        self.k, self.t_last, self.form = k, now, ARRAYS
        return False

    def _record_virtual(self, done: list[int], now: float, at_close: bool) -> None:
        """Completions in virtual time, kept for _flush: a numpy call per event cost as much as the event."""
        if not done:
            return
        n_done = len(done)
        self.done_keys += done
        self.done_at += [now] * n_done
        if at_close:  # never seen as an event: no rank
            self.done_rank += [-1] * n_done
        else:
            self.done_rank += range(self.rank, self.rank + n_done)
            self.rank += n_done

    def _to_virtual(self, now: float) -> None:
        """The array form's set into virtual time (a capped uplink with enough sharers), in its order."""
        k = self.k
        keys = self.state[IDX, :k].astype(np.int64).tolist()
        self.share.advance(now)
        self.share.admit(keys, self.state[REM, :k].tolist(), [self.full_rate[i] for i in keys])
        self.k, self.form = 0, VIRTUAL

    def _array_split(self, k: int, now: float) -> float:
        """The rates of the ``k`` transfers in the array form at ``now``, and the next wake-up."""
        if not k:
            return math.inf
        state = self.state
        rates = self.medium._active_rates(state[SNR, :k], state[INR, :k] if self.with_inr else 0.0)
        state[RATE, :k] = rates
        return _wake_at(now, float((state[REM, :k] / rates).min()))

    # ------------------------------------------------------------------ lists

    def _column(self, k: int) -> tuple[list[float], bool, float]:
        """The rate of each of the round's transfers [m] while ``k`` share the band, whether all are > 0, and the
        largest (NaN aside): bounds that spare the list walk a pass over its transfers per event."""
        column = self.columns.get(k)
        if column is None:
            rates = self.medium.share_rate_bps(self.snr, k, 0.0 if self.inr is None else self.inr)
            column = (rates.tolist(), bool(np.all(rates > 0.0)), float(np.max(rates, where=~np.isnan(rates), initial=0.0)))
            self.columns[k] = column
        return column

    def _list_split(self, rem: list[float], idx: list[int], now: float) -> tuple[list[float], float, float]:
        """The rates of the transfers in the list form at ``now`` (from the column for their count), the next
        wake-up, and the column's largest rate."""
        if not idx:
            return [], math.inf, 0.0
        k = len(idx)
        column, positive, top = self._column(k)
        rate = list(map(column.__getitem__, idx))
        step = min(map(truediv, rem, rate)) if positive else _min_ratio(rem, rate)
        return rate, _wake_at(now, step), top

    def _to_arrays(self) -> None:
        k = self.k
        idx = np.array(self.idx, dtype=np.int64)
        self.state[REM, :k] = self.rem
        self.state[RATE, :k] = self.rate
        self.state[TOL, :k] = self.tol
        self.state[SNR, :k] = self.snr[idx]
        self.state[INR, :k] = 0.0 if self.inr is None else self.inr[idx]
        self.state[IDX, :k] = idx
        self.form = ARRAYS

    def _to_lists(self) -> None:
        k = self.k
        self.rem = self.state[REM, :k].tolist()
        self.rate = self.state[RATE, :k].tolist()
        self.tol = self.state[TOL, :k].tolist()
        self.idx = self.state[IDX, :k].astype(np.int64).tolist()
        self.form = LISTS

"""Equal shares of a band whose rates are linear in the share, kept in virtual time.

Where a transmitter's power spectral density is constant (the downlink: the
base station spreads its power over the whole band), a transfer alone on the
band moves at its full-band rate ``R_i`` and, while ``n`` share the band, at
``R_i / n``: every active transfer gets the same fraction of its own full
rate.  So does a power-concentrating uplink while more transfers share the
band than it has PRBs: each then concentrates its power in one PRB, whatever
``n`` (``R_i`` is its rate over the band at that SNR).  So instead of every transfer's remaining bits, which change at every
start and completion, one virtual clock is kept: ``u``, the whole-band
seconds each active transfer has had since the round began, which grows at
``1/n`` per second.  A transfer of ``b`` bits admitted at ``u_a`` is through
when ``u`` reaches ``F = u_a + b / R_i``; completions come in order of ``F``
(a heap), and a start or a completion costs O(log n), not O(n)
(egalitarian processor sharing: Kleinrock, *Queueing Systems* vol. 2, 4.4).

Both round drivers use this class (the SimPy media of
:class:`sim.core.processor_sharing.Ofdma` in this regime, and :mod:`sim.core.fluid` for
the closed form), with the same calls at the same times, so both make the
same float operations and give the same records.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["LinearShare", "LINEAR_ENTER_MARGIN"]

# A capped uplink's set goes into virtual time at this many sharers past the count from which it is
# capped (and back below that count): a set that hovers there converts, O(n) each way, at most once
# per this many starts.
LINEAR_ENTER_MARGIN = 32


class LinearShare:
    """The active transfers of one direction and round, each ``(key, bits, full-band rate)``.

    t_s : the time of the last :meth:`advance` [s]
    u : whole-band seconds each active transfer has had since the start
    n : number of active transfers
    """

    def __init__(self, t_s: float = 0.0) -> None:
        self.t_s = t_s
        self.u = 0.0
        self.n = 0
        # (finish tag F, admission number, key, bits, full-band rate, the caller's extra); the number breaks ties.
        self._heap: list[tuple[float, int, Any, float, float, Any]] = []
        self._admitted = 0

    def advance(self, now_s: float) -> None:
        """Move the clock to ``now_s``: every active transfer has had ``(now - t) / n`` more."""
        if self.n and now_s > self.t_s:
            self.u += (now_s - self.t_s) / self.n
        self.t_s = now_s

    def admit(
        self, keys: Sequence[Any], bits: Sequence[float], full_rate_bps: Sequence[float],
        extras: Sequence[Any] | None = None,
    ) -> None:
        """Start transfers at the current time (after :meth:`advance`); a zero rate never completes.

        bits : what each has left to send; extras : anything the caller wants back from :meth:`drain`
        """
        if not self.n:
            self.u = 0.0  # an idle band starts its clock again (and keeps it small, where floats are fine)
        u, first, inf = self.u, self._admitted, math.inf
        entries = [(u + b / r if r > 0 else inf, first + j, key, b, r, None if extras is None else extras[j])
                   for j, (key, b, r) in enumerate(zip(keys, bits, full_rate_bps))]
        # (tag, admission number) orders every entry, so the pops are the same however the heap was built.
        if len(entries) > len(self._heap):
            self._heap += entries
            heapq.heapify(self._heap)
        else:
            for entry in entries:
                heapq.heappush(self._heap, entry)
        self._admitted += len(entries)
        self.n += len(entries)

    def step_s(self) -> float:
        """Time from now until the next completion [s]; inf when nothing can complete."""
        if not self.n or not math.isfinite(self._heap[0][0]):
            return math.inf
        return (self._heap[0][0] - self.u) * self.n

    def complete(self, now_s: float) -> list[Any]:
        """Take out the transfers through at ``now_s`` (after :meth:`advance`), in the order they started."""
        done: list[tuple[int, Any]] = []
        heap, u, ulp = self._heap, self.u, math.ulp
        # Through: within the rounding of the finish tag, or of the clock at now (a wake-up at now + dt could
        # otherwise land on the same float time forever).
        slack = 4.0 * ulp(now_s) / self.n if self.n else 0.0
        while heap and heap[0][0] - u <= max(4.0 * ulp(heap[0][0]), slack):
            _, number, key, _, _, _ = heapq.heappop(heap)
            done.append((number, key))
        self.n -= len(done)
        done.sort()
        return [key for _, key in done]

    def complete_all(self, now_s: float, limit_s: float) -> tuple[list[list[Any]], list[float]]:
        """Every completion up to ``limit_s`` with no start in between: the wake-ups a caller makes from
        ``now_s`` (each at ``now + step_s()``, then :meth:`advance` and :meth:`complete`), in one call.

        Returns (keys completed at each wake-up, its time); the clock ends at the last wake-up.
        """
        groups: list[list[Any]] = []
        times: list[float] = []
        while True:
            step = self.step_s()
            if not math.isfinite(step):
                break
            now = now_s + max(step, 0.0)
            if now > limit_s:
                break
            self.advance(now)
            groups.append(self.complete(now))
            times.append(now)
            now_s = now
        return groups, times

    def cut(self) -> list[tuple[Any, float]]:
        """Every active transfer with the bits it has left (>= 0), in the order they started; empties the set."""
        return [(key, max(0.0, left)) for key, left, _ in self.drain()]

    def drain(self) -> list[tuple[Any, float, Any]]:
        """Every active transfer with the bits it has left and its extra, in the order they started; empties the set.

        For a caller that goes on with remaining bits (fewer sharers than the
        regime needs); a zero-rate transfer has all it was admitted with left.
        """
        out = sorted((number, key, b if not r > 0 else (finish - self.u) * r, extra)
                     for finish, number, key, b, r, extra in self._heap)
        self._heap, self.n = [], 0
        return [(key, left, extra) for _, key, left, extra in out]

    def remove(self, key: Any) -> float:
        """Cut one active transfer now (after :meth:`advance`); returns the bits it has left (>= 0)."""
        for j, (finish, _, k, b, r, _) in enumerate(self._heap):
            if k == key:
                self._heap[j] = self._heap[-1]
                self._heap.pop()
                heapq.heapify(self._heap)
                self.n -= 1
                return self._left(finish, b, r)
        raise KeyError(key)

    def _left(self, finish: float, bits: float, rate_bps: float) -> float:
        if not rate_bps > 0:
            return bits  # a link that cannot move has all it was admitted with left
        return max(0.0, (finish - self.u) * rate_bps)

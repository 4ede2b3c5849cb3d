"""The policies that re-split the band at every start and completion: ``ofdma`` and ``proportional_fair``.

A transfer's rate depends on how many share the band (and, for
``proportional_fair``, on who): every start and completion changes every
active transfer's rate.  The active set is kept as remaining bits and rates,
O(n) an event, or in virtual time (:class:`sim.core.linear_share.LinearShare`,
O(log n)) where every rate is a full-band rate over ``n``.  See
:mod:`sim.core.medium` for the shared band, :mod:`sim.core.fluid` for the
closed-form walk that reproduces these media's events.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from channels.interference import concentrated_share_sinr
from channels.proportional_fair import pf_shares
from sim.core.linear_share import LINEAR_ENTER_MARGIN, LinearShare
from sim.core.medium import _EPS_BITS, Medium, Transfer

__all__ = ["Ofdma", "ProportionalFair"]


class Ofdma(Medium):
    """Processor sharing: the band is split equally among active transfers.

    Transfers that start at the same instant are admitted together (one rate
    update for all of them), so a broadcast to N clients costs one update.

    Where every rate is its full-band rate ``R_i`` over ``n`` the active set is
    kept in virtual time (:class:`sim.core.linear_share.LinearShare`), O(log n)
    per start and completion: without power concentration (a constant power
    density: the downlink) always, and on a power-concentrating uplink with a
    one-PRB minimum while more transfers share the band than it has PRBs
    (:meth:`capped_regime`).  Otherwise the set is kept as remaining bits and
    rates, O(n) each.  Fading within a transfer changes rates at block
    boundaries: it keeps the remaining bits throughout.
    """

    sharing = "ofdma"
    # A transfer's rate is a function of its own SINR and the number of sharers alone (share_rate_bps,
    # element by element), so sim.core.fluid may take it from a longer array of the round's transfers.
    rate_per_transfer = True
    # The active set as remaining bits, one element per transfer in the order they started (_set_arrays).
    _tr: np.ndarray
    _rem: np.ndarray
    _snr: np.ndarray
    _inr_active: np.ndarray
    _clients: np.ndarray
    _rates: np.ndarray
    _tol: np.ndarray

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._set_arrays([], np.empty(0), np.empty(0), np.empty(0))
        self._pending: list[tuple[Transfer, float]] = []
        self._t_last = 0.0
        self._generation = 0
        # Rates linear in the share for the whole run (until fading within transfers is set).
        self.linear = not self.power_concentration
        self._share = LinearShare()
        self._virtual = self.linear  # the active set is in the share now

    def set_blocks(self, gain_ratio: np.ndarray, t0_s: float, block_s: float) -> None:
        if self._share.n:
            raise RuntimeError("fading blocks set while transfers share the band in virtual time")
        self.linear = self._virtual = False
        super().set_blocks(gain_ratio, t0_s, block_s)

    def capped_regime(self) -> tuple[int, int] | None:
        """(enter, leave): sharer counts at which the active set goes into virtual time and back; None: never.

        A power-concentrating transmitter with a one-PRB minimum concentrates
        its power in one PRB once ``n >= B / PRB``: its SINR on the share no
        longer depends on ``n`` and its rate is ``R_i / n``.  The set goes into
        virtual time a margin past that count (a conversion costs O(n)) and
        back to remaining bits below it.
        """
        if (self.linear or not self.power_concentration or not self.rate_per_transfer or self.blocks is not None
                or not math.isfinite(self.max_concentration)):
            return None
        capped_from = math.ceil(self.max_concentration)
        return capped_from + LINEAR_ENTER_MARGIN, capped_from

    def full_rates_bps(self, snr_linear: np.ndarray, inr: np.ndarray | None = None) -> np.ndarray:
        """[m] each transfer's ``R_i`` in virtual time [bit/s]: its rate over the whole band at its SINR there.

        inr : [m] I / N of each, or None without interference.  With power
        concentration the SINR is the one-PRB concentration's (``capped_regime``).
        """
        snr = np.asarray(snr_linear, dtype=float)
        if self.power_concentration:
            c = self.max_concentration
            snr = snr * c if inr is None else concentrated_share_sinr(snr, inr, c)
        return self.rate.rate_bps(snr, self.bandwidth_hz)

    def _start(self, transfer: Transfer) -> None:
        transfer.done = self.env.event()
        if not self._pending:
            # Admit everything that starts at this instant in one update,
            # after the other events already due now have run.
            settle = self.env.event()
            settle.callbacks.append(self._settle)
            settle.succeed()
        self._pending.append((transfer, float(self.snr_linear[transfer.client])))

    def _abort(self) -> list[Transfer]:
        self._admit()
        self._advance()
        self._complete_finished()
        self._generation += 1
        if self._virtual:
            out = self._share.cut()
            for t, left in out:
                t.sent_bits = t.bits - left  # type: ignore[attr-defined]
            self._virtual = self.linear  # an empty capped set starts from remaining bits again
            return [t for t, _ in out]  # type: ignore[misc]
        cut = list(self._tr)
        for t, rem in zip(cut, self._rem.tolist()):
            t.sent_bits = t.bits - max(0.0, rem)
        self._set_arrays([], np.empty(0), np.empty(0), np.empty(0))
        return cut

    def _cancel(self, transfer: Transfer) -> None:
        for k, (t, _) in enumerate(self._pending):
            if t is transfer:
                del self._pending[k]
                transfer.sent_bits = 0.0
                return
        self._advance()
        if self._virtual:
            try:
                transfer.sent_bits = transfer.bits - self._share.remove(transfer)
            except KeyError:
                return
            self._leave_if_few()
            self._reschedule()
            return
        at = [k for k, t in enumerate(self._tr.tolist()) if t is transfer]
        if not at:
            return
        keep = np.ones(self._tr.shape[0], dtype=bool)
        keep[at[0]] = False
        transfer.sent_bits = transfer.bits - max(0.0, float(self._rem[at[0]]))
        self._tr, self._rem, self._snr = self._tr[keep], self._rem[keep], self._snr[keep]
        self._rates, self._tol = self._rates[keep], self._tol[keep]
        self._inr_active, self._clients = self._inr_active[keep], self._clients[keep]
        self._reschedule()

    def _settle(self, _event: simpy.Event) -> None:
        if self._pending:
            self._admit()
            self._reschedule()

    def _admit(self) -> None:
        if not self._pending:
            return
        self._advance()
        new, self._pending = self._pending, []
        if self._virtual:
            snr = np.array([s for _, s in new], dtype=float)
            inr = None if self.inr is None else self.inr[np.array([t.client for t, _ in new], dtype=np.int64)]
            extras = list(zip(snr.tolist(), [0.0] * len(new) if inr is None else inr.tolist()))
            self._share.admit([t for t, _ in new], [float(t.bits) for t, _ in new],
                              self.full_rates_bps(snr, inr).tolist(), extras)
            return
        tr = np.empty(len(new), dtype=object)
        tr[:] = [t for t, _ in new]
        self._tr = np.concatenate([self._tr, tr])
        self._rem = np.concatenate([self._rem, [t.bits for t, _ in new]])
        self._snr = np.concatenate([self._snr, [s for _, s in new]])
        clients = np.array([t.client for t, _ in new], dtype=np.int64)
        self._inr_active = np.concatenate([self._inr_active, np.broadcast_to(self._inr(clients), clients.shape)])
        self._clients = np.concatenate([self._clients, clients])
        self._rates = np.concatenate([self._rates, np.zeros(len(new))])
        # Float error in the remainder scales with the transfer's size.
        self._tol = np.concatenate([self._tol, [_EPS_BITS + 1e-12 * t.bits for t, _ in new]])
        regime = self.capped_regime()
        if regime is not None and self._tr.shape[0] >= regime[0]:
            self._to_share()

    def _to_share(self) -> None:
        """The active set from remaining bits into virtual time (every transfer capped at one PRB)."""
        inr = None if self.inr is None else self._inr_active
        rates = self.full_rates_bps(self._snr, inr).tolist()
        extras = list(zip(self._snr.tolist(), self._inr_active.tolist()))
        self._share.advance(self.env.now)
        self._share.admit(list(self._tr), self._rem.tolist(), rates, extras)
        self._set_arrays([], np.empty(0), np.empty(0), np.empty(0))
        self._virtual = True

    def _leave_if_few(self) -> None:
        """Back to remaining bits once fewer share the band than it has PRBs (the linear media never leave)."""
        regime = self.capped_regime()
        if regime is None or self._share.n >= regime[1]:
            return
        items = self._share.drain()
        snr = np.array([e[0] for _, _, e in items], dtype=float)
        inr = np.array([e[1] for _, _, e in items], dtype=float)
        self._set_arrays([t for t, _, _ in items], np.array([left for _, left, _ in items], dtype=float), snr, inr)
        self._t_last = self.env.now
        self._virtual = False

    def _set_arrays(self, transfers: list[Transfer], rem: np.ndarray, snr: np.ndarray, inr: np.ndarray) -> None:
        tr = np.empty(len(transfers), dtype=object)
        tr[:] = transfers
        self._tr, self._rem, self._snr, self._inr_active = tr, rem, snr, inr
        self._clients = np.array([t.client for t in transfers], dtype=np.int64)
        self._rates = np.zeros(len(transfers))
        self._tol = np.array([_EPS_BITS + 1e-12 * t.bits for t in transfers], dtype=float)

    def _advance(self) -> None:
        if self._virtual:
            self._share.advance(self.env.now)
            self._t_last = self.env.now
            return
        dt = self.env.now - self._t_last
        if dt > 0 and self._rates.size:
            self._rem -= self._rates * dt
        self._t_last = self.env.now

    def _reschedule(self) -> None:
        self._generation += 1
        if self._virtual:
            self._wake_after(self._share.step_s())
            return
        n = self._tr.shape[0]
        if not n:
            self._rates = np.empty(0)
            return
        snr = self._snr
        if self.blocks is not None:
            snr = snr * self.blocks[self._clients, self._block_index(self.env.now)]
        self._rates = self._active_rates(snr, self._inr_active)
        with np.errstate(divide="ignore"):
            dt = float((self._rem / self._rates).min())
        # Rates change at the next coherence block too.
        self._wake_after(min(dt, self._next_boundary_s(self.env.now) - self.env.now))

    def _wake_after(self, dt: float) -> None:
        if not math.isfinite(dt):
            return  # nobody can move: zero-rate links wait for the deadline
        gen = self._generation
        wake = self.env.timeout(max(dt, 0.0))
        wake.callbacks.append(lambda _event: self._wake(gen))

    def _active_rates(self, snr_linear: np.ndarray, inr: np.ndarray) -> np.ndarray:
        """Rates [bit/s] of the transfers active now, given their full-band SINRs and I / N."""
        return self.share_rate_bps(snr_linear, snr_linear.shape[0], inr)

    def _wake(self, generation: int) -> None:
        if generation != self._generation:
            return  # superseded by a later start or completion
        self._advance()
        self._complete_finished()
        self._reschedule()

    def _complete_finished(self) -> None:
        now = self.env.now
        if self._virtual:
            for t in self._share.complete(now):
                t.end_s = now  # type: ignore[attr-defined]
                t.done.succeed(now - t.start_s)  # type: ignore[attr-defined]
            self._leave_if_few()
            return
        if not self._tr.shape[0]:
            return
        # Also done: transfers that would finish within the clock's resolution,
        # or a wake-up could land on the same float time forever.
        finished = self._rem <= np.maximum(self._tol, self._rates * (4.0 * math.ulp(now)))
        if not finished.any():
            return
        done = self._tr[finished]
        keep = ~finished
        self._tr, self._rem, self._snr = self._tr[keep], self._rem[keep], self._snr[keep]
        self._inr_active, self._clients = self._inr_active[keep], self._clients[keep]
        self._rates, self._tol = self._rates[keep], self._tol[keep]
        for t in done:
            t.end_s = now
            t.done.succeed(now - t.start_s)


class ProportionalFair(Ofdma):
    """Ofdma's fluid re-sharing with the proportional-fair split of the band.

    At every start and end the active transfers get the shares ``b_i``
    (summing to ``B``) that maximise ``sum_i log r_i(b_i)``.  Uplink (power
    concentration): ``r_i(b) = b log2(1 + s_i B / (Gamma b))``, ``Gamma`` the
    rate model's SNR gap (1 unless it is a :class:`ShannonRate` with a gap),
    solved exactly by :func:`channels.proportional_fair.pf_shares`; the rate
    model then gives each transfer its rate at SNR ``s_i B / b_i`` on
    ``b_i`` (for ``nr_mcs`` the MCS staircase on the share: its stepped
    spectral efficiency is not concave, so the split is made on the capacity
    curve it approximates; a spectral-efficiency cap is likewise applied after
    the split).  Downlink (constant power density): ``r_i`` is linear in
    ``b_i``, so the split is equal and the rates are ``ofdma``'s.

    The budget's expected rate is the client's rate in the split among the
    round's expected transfers (``members``), as ``ofdma``'s is ``B/N``.

    Sionna's ``sionna.sys.PFSchedulerSUMIMO`` is not used: it gives whole
    resource blocks of one slot to the user with the best ratio of achievable
    rate to a discounted average of past slots' rates, which needs a slotted
    clock and per-block rates; this medium is a fluid model without slots,
    where rates change only when a transfer starts or ends, and the
    proportional-fair criterion is the instantaneous sum of log rates over a
    continuous split.
    """

    sharing = "proportional_fair"
    rate_per_transfer = False  # the split depends on who else is active

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Successive solves differ by one transfer: start from the last multiplier.
        self._log_lambda: float | None = None

    def _active_rates(self, snr_linear: np.ndarray, inr: np.ndarray) -> np.ndarray:
        return self._pf_rates(snr_linear, inr)

    def _expected_rates(self, snr_linear: np.ndarray) -> np.ndarray:
        members = np.arange(snr_linear.shape[0]) if self.members is None else self.members
        inr = np.broadcast_to(self._inr(), snr_linear.shape)
        rates = self.share_rate_bps(snr_linear, self.expected, inr)
        rates[members] = self._pf_rates(snr_linear[members], inr[members])
        return rates

    def _pf_rates(self, snr_linear: np.ndarray, inr: np.ndarray) -> np.ndarray:
        n = snr_linear.shape[0]
        if not self.power_concentration or n <= 1:
            return self.share_rate_bps(snr_linear, n, inr)
        bw = self.bandwidth_hz
        gap = float(getattr(self.rate, "gap_linear", 1.0))
        share, log_lambda = pf_shares(snr_linear * bw / gap, bw, self._log_lambda)
        if math.isfinite(log_lambda):
            self._log_lambda = log_lambda
        rates = np.zeros(n)
        on = share > 0
        # The split is made on the interference-free curve; each share's rate then at its SINR.
        c = bw / share[on]
        rates[on] = self.rate.rate_bps(concentrated_share_sinr(snr_linear[on], inr[on], self._concentration(c)), share[on])
        return rates

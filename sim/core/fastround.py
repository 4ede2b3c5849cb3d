"""Synchronous rounds in closed form over numpy arrays: the records of the SimPy path, without its events.

Where every transfer's end is known when it starts (``fdma_static``: each
client on its own ``B/N``; ``tdma``: a first-come queue, a cumulative sum of
service times), a round's whole timeline follows from arrays: download ends,
compute ends, the upload queue in order of compute end, arrivals, the
deadline cut.  Where the band is re-split at every start and completion
(``ofdma``, ``proportional_fair``) the starts are still known in advance, and
:func:`sim.core.fluid.fluid_transfers` walks the medium's completions over arrays
in the order its SimPy wake-ups would.  :class:`FastRounds` computes it with the same floating-point
operations, in the same order, as the event path's SimPy timeouts, so both
give byte-identical records; the learning workloads' per-client calls
(``downlink``, ``work_flop``, ``local_update``, ``downloaded``) are made as
before, ``local_update`` in the order the event path makes them (compute end,
then client).  ARQ draws come from each client's own stream, as on the event
path, so the order in which clients are drawn does not matter.

:func:`events_needed` is the one predicate: it names what the closed form
does not cover, and the engine then runs one SimPy process per client.

Simulated time: a client event at time ``t`` scheduled with delay ``d`` from
``s`` fires at ``s + d`` (SimPy adds the delay to the clock), which is not
always ``t`` to the last bit; the driver keeps those sums as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.arq import arq_many
from sim.core.fluid import fluid_transfers
from sim.core.medium import MultiCellMedium

if TYPE_CHECKING:
    from channels import Radio
    from sim.core.engine import Engine
    from sim.config.scenario import Scenario

__all__ = ["FAST_SHARING", "events_needed", "per_client", "FastRounds"]

# Sharing policies whose transfer ends are known when they start (closed form).
SCHEDULED = ("fdma_static", "tdma")
# Policies that re-split the band at every start and end: their event sequence walked over arrays (sim.core.fluid).
FLUID = ("ofdma", "proportional_fair")
FAST_SHARING = SCHEDULED + FLUID


def events_needed(scn: Scenario, radio: Radio, availability_always: bool) -> str | None:
    """Why ``scn`` needs one SimPy process per client; None when :class:`FastRounds` gives its records.

    The closed form covers synchronous rounds of a fixed client population
    (with or without per-round selection), every sharing policy in either
    direction (ofdma and proportional_fair in one cell: :mod:`sim.core.fluid`), and
    a channel that holds within the round.  Everything else needs events:
    asynchronous rounds (FedBuff), clients that go offline within a round,
    fading within a transfer (per coherence block), the re-splitting policies
    over several cells (the order of simultaneous completions across cells is
    the event queue's), and the radio features
    the closed form does not reproduce: multicast downlink, open-loop power
    control, HARQ with chase combining and transport-block packets.  (A
    minimum allocation of one PRB it inherits: the media's expected rates
    carry the power-concentration cap.)
    """
    med = scn.medium
    if scn.round.engine == "events":
        return "round.engine is events"
    if scn.round.mode != "sync":
        return f"round.mode is {scn.round.mode} (FedBuff)"
    if not availability_always:
        return f"clients.availability is {scn.clients.availability} (clients may go offline within a round)"
    for key, sharing in (("uplink_sharing", med.uplink_sharing), ("downlink_sharing", med.downlink_sharing)):
        if sharing not in FAST_SHARING:
            return f"medium.{key} is {sharing} (not a known sharing policy)"
        if sharing in FLUID and radio.drop.site is not None:
            return f"medium.{key} is {sharing} over several cells (completions across cells in event order)"
    if med.downlink_mode != "unicast":
        return f"medium.downlink_mode is {med.downlink_mode} (one transfer per group of receivers)"
    if scn.clients.power_control != "off":
        return f"clients.power_control is {scn.clients.power_control} (per-client transmit powers)"
    if med.combining != "none":
        return f"medium.combining is {med.combining} (per-try error rates per client)"
    if med.packet_size != "fixed":
        return f"medium.packet_size is {med.packet_size} (per-client packet sizes)"
    if radio.channel.within_transfer:
        return "channel.fading.within_transfer gives blocks (the rate changes within a transfer)"
    return None


def per_client(medium: Any, name: str) -> np.ndarray:
    """A medium's per-client array ``name`` [num_clients]; each client's from its own cell."""
    if not isinstance(medium, MultiCellMedium):
        return np.asarray(getattr(medium, name), dtype=float)
    out = np.empty(medium.site.shape[0])
    for c, cell in enumerate(medium.cells):
        own = medium.site == c
        out[own] = np.asarray(getattr(cell, name), dtype=float)[own]
    return out


def _cells(medium: Any, n: int) -> np.ndarray:
    return medium.site if isinstance(medium, MultiCellMedium) else np.zeros(n, dtype=np.int64)


class _Link:
    """One direction's rates this round: what a transfer of each client gets.

    rate_bps : [num_clients] the rate a transfer drains at (fdma: its ``B/N``
        share; tdma: the whole band, in turn)
    bler : [num_clients] probability that one packet try fails
    expected_bps : [num_clients] the rate the budget counts on
    """

    def __init__(self, medium: Any, sharing: str, n: int) -> None:
        self.sharing = sharing
        self.expected_bps = per_client(medium, "_expected_rate")
        self.bler = per_client(medium, "_expected_bler")
        self.rate_bps = per_client(medium, "_full_rate") if sharing == "tdma" else self.expected_bps
        self.cell = _cells(medium, n)

    def ends(self, clients: np.ndarray, start_s: np.ndarray, bits: np.ndarray, t0_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(service start, end) [s] of transfers of ``bits`` by ``clients`` arriving at ``start_s``.

        clients, start_s, bits : [m], in the order the transfers start (tdma
        serves them in that order, each cell its own queue from ``t0_s``);
        a zero-bit transfer ends when it starts; a dead link (rate 0) never.
        """
        rate = self.rate_bps[clients]
        with np.errstate(divide="ignore"):
            work_s = np.where(rate > 0, bits / np.where(rate > 0, rate, 1.0), math.inf)
        service = start_s.copy()
        if self.sharing == "fdma_static":
            end = start_s + work_s
        else:
            end = np.empty_like(start_s)
            cells = self.cell[clients].tolist()
            free: dict[int, float] = {}
            # max-plus recursion, one float step per transfer as the medium's queue takes it
            starts, works = start_s.tolist(), work_s.tolist()
            for j, (c, s, w, b) in enumerate(zip(cells, starts, works, bits.tolist())):
                if b <= 0:
                    end[j] = s
                    continue
                at = max(s, free.get(c, t0_s))
                service[j] = at
                end[j] = free[c] = at + w
        zero = bits <= 0
        end[zero] = start_s[zero]
        service[zero] = start_s[zero]
        return service, end


class FastRounds:
    """The synchronous round loop of an :class:`~sim.core.engine.Engine`, in closed form.

    Uses the engine's media (for their per-round rates and block-error rates),
    seeded streams, selector and records, so that the two drivers share every
    piece of state but the clock.
    """

    def __init__(self, engine: Engine) -> None:
        from sim.core import engine as eng

        self.e, self.codes = engine, eng
        n = engine.scn.clients.count
        self.n = n

    def run(self, on_round: Callable[[dict[str, Any]], None] | None = None) -> float:
        """Every round in turn; returns the simulated time at the end [s]."""
        now = 0.0
        for r in range(self.e.scn.rounds):
            row, now = self.round(r, now)
            self.e.result.rounds.append(row)
            if on_round is not None:
                on_round(row)
        return now

    def round(self, r: int, t0: float) -> tuple[dict[str, Any], float]:
        """Round ``r`` from ``t0``: its rounds.csv row and the time the next round starts."""
        e, c = self.e, self.codes
        scn, n, med = e.scn, self.n, e.scn.medium
        ul, dl = e.radio.link_states(t0, e._fading.draw(r))
        deadline_abs = t0 + scn.round.deadline_s
        members = None
        if e.selector is not None or not e.availability.always:
            members = e._members(t0, ul)
        who = np.arange(n) if members is None else members
        who_list = who.tolist()
        alg = e.algorithm
        down = alg.broadcast(r)
        per_client = alg.downlink if alg.per_client_downlink else None
        down_bits = np.zeros(n, dtype=np.int64)
        down_bits[who] = down.bits if per_client is None else [per_client(i, r).bits for i in who_list]
        m = who.shape[0]
        e.uplink.begin_round(ul.snr_linear, m, ul.extra_loss, members)
        e.downlink.begin_round(dl.snr_linear, m, dl.extra_loss, members)
        up = _Link(e.uplink, med.uplink_sharing, n)
        dn = _Link(e.downlink, med.downlink_sharing, n)

        ul_arq, dl_arq = e.arq_tables(r)
        # Downloads: all start at t0, in client order.
        _, dl_air, dl_ok = arq_many(down_bits[who], med.packet_bits, dl_arq, who)
        compute_s = np.zeros(n)
        flop = alg.fixed_work_flop(r) if alg.fixed_work_applies else None
        if flop is not None:
            work = np.full(m, flop)
        else:
            work = np.array([alg.work_flop(i, r) for i in who_list], dtype=float).reshape(-1)
        if members is None:
            compute_s = work / e.speed_flops
        else:
            compute_s[members] = work / e.speed_flops[members]
        latency = np.asarray(ul.latency_s, dtype=float)[who]
        order_dl = np.argsort(who, kind="stable")  # the event path's downloads start in client order
        # The order the compute timeouts were made in, which breaks ties of their ends (local_update's order).
        made = who.copy()
        dl_sent_fl: np.ndarray | None = None
        if dn.sharing in FLUID:
            fl = fluid_transfers(e.downlink, who[order_dl], np.full(m, t0), dl_air[order_dl], deadline_abs)
            dl_end, dl_sent_fl, dl_seq = np.empty(m), np.empty(m), np.empty(m, dtype=np.int64)
            dl_end[order_dl], dl_sent_fl[order_dl], dl_seq[order_dl] = fl.end_s, fl.sent_bits, fl.seq
            dl_service = np.full(m, t0)
            zero_bits = dl_air <= 0
            seen = dl_end < deadline_abs  # a completion at the close itself never reaches its client
            computing = dl_ok & seen
            with np.errstate(invalid="ignore"):
                # A zero-bit download's end is known at once (one timeout from t0); the others wait on it.
                tc = np.where(computing, np.where(zero_bits, t0 + (((dl_end - t0) + latency) + compute_s[who]),
                                                  dl_end + (latency + compute_s[who])), math.inf)
            dl_fail_at = np.where(~dl_ok & seen, dl_end, math.inf)
            made = np.where(zero_bits, who - n, dl_seq)
        else:
            dl_service, dl_end = dn.ends(who, np.full(m, t0), dl_air.astype(float), t0)
            finite_dl = np.isfinite(dl_end)
            computing = dl_ok & finite_dl
            with np.errstate(invalid="ignore"):
                # One timeout for download, propagation and compute, scheduled at t0.
                tc = np.where(computing, t0 + (((dl_end - t0) + latency) + compute_s[who]), math.inf)
                dl_fail_at = np.where(~dl_ok & finite_dl, t0 + (dl_end - t0), math.inf)
        compute_start = np.full(n, np.nan)
        compute_start[who[computing]] = (dl_end + latency)[computing]

        # Uploads: local_update in the order the compute ends (then client), as the events would call it.
        callers = np.flatnonzero(tc <= deadline_abs)
        callers = callers[np.lexsort((made[callers], tc[callers]))]
        budget_bits = np.zeros(n, dtype=np.int64)
        k = np.full(n, -1, dtype=np.int64)
        payload_bits = np.zeros(n, dtype=np.int64)
        outcome = np.full(n, c.DEADLINE, dtype=np.int8)
        goodput = up.expected_bps * (1.0 - up.bler)
        # The budgets, as each client works its own out when its compute ends.
        g = goodput[who[callers]]
        time_left = deadline_abs - tc[callers] - latency[callers]
        room = g * time_left
        # int() of the product, clamped to int64 (floats below 2^63 fit).
        bits_all = np.where(room >= 2.0**63, 2**63 - 1, np.trunc(np.where(room >= 2.0**63, 0.0, room)).astype(np.int64))
        bits_all = np.where(time_left > 0, bits_all, 0)
        budget_bits[who[callers]] = bits_all
        payloads: dict[int, Any] = {}
        sent: list[int] = []  # positions in who, in upload order
        skipped = np.zeros(m, dtype=bool)
        tx_dbm = e._uplink_power_dbm(members)
        # The SNR at the client's own transmit power, written as the event path writes it.
        fixed = alg.fixed_upload(r) if alg.fixed_upload_applies else None
        if fixed is not None:
            # Synthetic traffic: every client that computes sends the same payload, whatever its budget.
            pos = callers
            ids = who[pos]
            payload_bits[ids] = fixed.bits
            if fixed.k is not None:
                k[ids] = fixed.k
        else:
            snr = (ul.snr_db[who[callers]] + tx_dbm[who[callers]] - scn.clients.tx_power_dbm).tolist()
            budget = c.Budget
            local_update = alg.local_update
            for j, b, gj, s, tl in zip(callers.tolist(), bits_all.tolist(), g.tolist(), snr, time_left.tolist()):
                i = who_list[j]
                payload = local_update(i, r, budget(b, gj, s, tl))
                if payload is None:
                    skipped[j] = True
                    continue
                if payload.k is not None:
                    k[i] = payload.k
                payloads[i] = payload
                sent.append(j)
            pos = np.array(sent, dtype=np.int64)
            ids = who[pos]
            payload_bits[ids] = [payloads[i].bits for i in ids.tolist()]
        tc_up = tc[pos]
        tries, up_air, ok = arq_many(payload_bits[ids], med.packet_bits, ul_arq, ids)
        up_sent_fl: np.ndarray | None = None
        if up.sharing in FLUID:
            flu = fluid_transfers(e.uplink, ids, tc_up, up_air, deadline_abs)
            service, end, up_sent_fl = tc_up.copy(), flu.end_s, flu.sent_bits
            done_at = np.where(end < deadline_abs, end, math.inf)  # what the client sees through
        else:
            service, end = up.ends(ids, tc_up, up_air.astype(float), t0)
            with np.errstate(invalid="ignore"):
                done_at = np.where(np.isfinite(end), tc_up + (end - tc_up), math.inf)

        # The close: everybody through, or the deadline.
        finish = tc.copy()  # skipped clients finish at their compute end
        finish[~computing] = dl_fail_at[~computing]
        finish[~skipped & computing] = math.inf
        finish[pos] = done_at
        last_finish = float(finish.max(initial=t0))
        by_deadline = not last_finish < deadline_abs
        t1 = deadline_abs if by_deadline else last_finish
        # At the deadline only events scheduled before it are through (a zero-length
        # upload starting at the deadline itself is not).
        created = tc_up
        through = (done_at < t1) | ((done_at == t1) & (created < t1)) if by_deadline else np.isfinite(done_at)
        arrival = np.where(through, done_at + latency[pos], math.inf)
        last = float(arrival[np.isfinite(arrival)].max(initial=t1))
        close_s = t1 + (min(last, deadline_abs) - t1) if t1 < min(last, deadline_abs) else t1

        outcome_who = np.full(m, c.DEADLINE, dtype=np.int8)
        outcome_who[(dl_fail_at <= t1)] = c.DOWNLINK_FAILURE
        outcome_who[skipped] = c.SKIPPED
        completed = end <= close_s
        arrived = completed & (arrival <= deadline_abs)
        outcome_who[pos[arrived]] = np.where(ok[arrived], c.DELIVERED, c.ARQ_FAILURE)
        outcome[who] = outcome_who

        airtime = np.zeros(n)
        attempts = np.zeros(n, dtype=np.int64)
        with np.errstate(invalid="ignore"):
            air_end = np.where(completed, end, close_s)
            airtime[ids] = np.maximum(0.0, air_end - service)
            cut_bits = up.rate_bps[ids] * np.maximum(0.0, close_s - service) if up_sent_fl is None else up_sent_fl
        cut_tries = np.ceil(np.where(completed, 0.0, cut_bits) / med.packet_bits).astype(np.int64)
        attempts[ids] = np.where(completed, tries, np.minimum(tries, cut_tries))

        # Aggregate in arrival order (ties by client id), as the event path does.
        order = np.lexsort((ids, arrival))
        good = ids[order[(arrived & ok)[order]]].tolist()
        delivered = dict.fromkeys(good, fixed) if fixed is not None else {i: payloads[i] for i in good}
        names = c.OUTCOMES
        out_who = outcome[who]
        dropped = out_who != c.DELIVERED
        failures = dict(zip(who[dropped].tolist(), [names[o] for o in out_who[dropped].tolist()]))
        if alg.tracks_downloads:
            for i in np.flatnonzero(compute_start <= close_s).tolist():
                alg.downloaded(i, r)
        alg.aggregate(r, delivered, failures)
        now_s = close_s + scn.round.aggregation_s if scn.round.aggregation_s > 0 else close_s
        every = scn.workload.eval_every
        metrics = alg.evaluate(r) if (r + 1) % every == 0 or r == scn.rounds - 1 else {}
        # Each client's part ends at its failure, skip or upload's end; the close cuts the rest.
        end_s = np.full(n, np.nan)
        end_s[who] = np.where(finish <= close_s, finish, np.nan)
        # Downloads: cut at the close as the medium's abort cuts them (what had gone on the air by then).
        dl_done = dl_end <= close_s
        with np.errstate(invalid="ignore"):
            dl_airtime = np.maximum(0.0, np.where(dl_done, dl_end, close_s) - dl_service)
            dl_sent = dn.rate_bps[who] * np.maximum(0.0, close_s - dl_service) if dl_sent_fl is None else dl_sent_fl
        zero_dl = dl_air <= 0
        dl_airtime[zero_dl] = 0.0
        down_airtime = np.zeros(n)
        down_airtime[who] = dl_airtime
        whole = dl_done | zero_dl
        if whole.all():  # every download through: a sum of whole numbers, exact either way
            down_air_bits: float = int(dl_air.sum())
        else:  # whole transfers and cut ones' bits, summed as the event path sums them
            down_air_bits = sum([int(a) if d else float(b) for a, d, b in
                                 zip(dl_air[order_dl].tolist(), whole[order_dl].tolist(), dl_sent[order_dl].tolist())])
        down_air_s = sum(dl_airtime[order_dl].tolist())
        row = e.record_round(
            r, t0, now_s, close_s, ul, members, np.full(n, math.inf), compute_start, compute_s, outcome,
            budget_bits, k, payload_bits, down_bits, airtime, attempts, metrics, end_s=end_s, tx_dbm=tx_dbm,
            down_airtime=down_airtime, down_air_bits=float(down_air_bits), down_air_s=float(down_air_s),
        )
        return row, now_s

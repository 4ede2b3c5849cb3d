"""The round driver: a SimPy server process and one process per client per round.

A synchronous round, in simulated time:

1. the server draws every link's state at the round start and broadcasts
   ``Algorithm.broadcast`` to each participant over the downlink medium;
2. each client computes for ``work_flop / speed`` seconds, then asks its link
   what it can still deliver (a :class:`~workloads.Budget`), lets the
   algorithm encode its upload and sends it over the uplink medium with ARQ;
3. the round closes when every participant is through or at the deadline,
   whichever comes first; transfers still in the air are cut, the delivered
   payloads are aggregated (failures passed beside them, not raised), and the
   server evaluates.

Simulation logic reads time only from ``env.now``.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy

from channels import Radio, build_radio
from channels.link import dbm_to_w
from channels.power_control import link_to_power, pusch_power_dbm
from channels.rate import RateModel
from sim.core.availability import Availability, availability_for
from sim.core.columns import ASYNC_CLIENT_COLUMNS, CLIENT_COLUMNS, RunResult, client_columns, round_row
from sim.core.fedbuff import FedBuff
from sim.core.arq import ArqTables, arq_many, arq_one, arq_width
from sim.core.energy import client_energy_j, device_speeds
from sim.core.harq import harq_attempts
from sim.core.medium import ArqOutcome, MultiCellMedium, arq_attempts, make_medium
from sim.core.multicast import extend_blocks, extend_for_groups, multicast_arq, multicast_groups
from sim.core.outcome import OUTCOMES
from sim.core.rng import RoundNormals, RoundUniforms, SeedTree, client_generators, generator
# The outcome codes as plain ints (sim.core.fastround reads them here too).
from sim.core.round_state import ARQ_FAILURE, DEADLINE, DELIVERED, DOWNLINK_FAILURE, OFFLINE, SKIPPED, STALE
from sim.core.round_state import ClosedRound, RoundState
from sim.config.scenario import Scenario
from sim.config.schema import radio_config
from sim.core.selection import Selector
from sim.core.fastround import FastRounds, events_needed, per_client
from workloads.base import Algorithm, Budget, Payload

__all__ = ["Engine", "RunResult", "OUTCOMES", "CLIENT_COLUMNS", "ASYNC_CLIENT_COLUMNS", "round_row", "scenario_radio"]


def scenario_radio(scn: Scenario) -> Radio:
    """The radio of ``scn``: its radio sections and its seed tree, in one call into channels."""
    return build_radio(radio_config(scn), SeedTree(scn.seed))


class Engine:
    """Runs one scenario with one algorithm."""

    def __init__(self, scn: Scenario, algorithm: Algorithm, radio: Radio | None = None) -> None:
        if not isinstance(algorithm, Algorithm):
            raise TypeError(f"{type(algorithm).__name__} does not subclass workloads.Algorithm")
        self.scn, self.algorithm = scn, algorithm
        self.radio = radio or scenario_radio(scn)
        n = scn.clients.count
        self.env = simpy.Environment()
        ch = self.radio.channel
        med = scn.medium
        self.uplink = self._medium(ch.bandwidth_ul_hz, med.uplink_sharing, self.radio.rate, True)
        self.downlink = self._medium(ch.bandwidth_dl_hz, med.downlink_sharing, ch.rate_downlink, False)
        if np.any(ch.inr_ul > 0):
            self.uplink.set_interference(ch.inr_ul)
        self.prb_hz = 12 * scn.cell.scs_khz * 1e3
        if med.min_allocation == "prb":
            self.uplink.set_min_allocation(self.prb_hz)
        self._fading = RoundNormals(client_generators(scn.seed, "fading", n), width=2)
        self._arq_ul = client_generators(scn.seed, "arq_uplink", n)
        self._arq_dl = client_generators(scn.seed, "arq_downlink", n)
        # Synchronous rounds: a block of uniforms per client and round for each direction's ARQ (sim.core.arq).
        self._arq_u_ul = RoundUniforms(self._arq_ul, width=arq_width(scn.medium.max_attempts))
        self._arq_u_dl = RoundUniforms(self._arq_dl, width=arq_width(scn.medium.max_attempts))
        # Chase combining and transport-block packets need per-client error-rate sequences and packet sizes:
        # those runs draw ARQ from each client's generator (Engine.arq); plain ARQ from the uniform blocks.
        self.uniform_arq = med.combining == "none" and med.packet_size == "fixed"
        self._arq_mc = [generator(scn.seed, "arq_multicast", c) for c in range(self.radio.num_cells)]
        self.speed_flops = device_speeds(scn.clients.device, scn.seed, n)
        self.tx_power_w = float(dbm_to_w(scn.clients.tx_power_dbm))
        self.result = RunResult(columns=ASYNC_CLIENT_COLUMNS if scn.round.mode == "async" else CLIENT_COLUMNS)
        cl = scn.clients
        self.availability: Availability = availability_for(cl, scn.seed)
        self.selector = (
            None if cl.per_round is None else Selector(cl.selection, n, cl.per_round, scn.seed, cl.pf_time_constant_rounds)
        )
        # What each client holds, as the algorithm declares it; -1 (written empty) where it declares nothing.
        held = [algorithm.client_storage_bytes(i) for i in range(n)]
        self._storage = np.array([-1 if b is None else b for b in held], dtype=np.int64)
        self._first_round = [self.env.event() for _ in range(n)]
        self._fedbuff: FedBuff | None = None
        # Why this run's rounds need one process per client; None: the closed form gives the same records.
        self.events_reason = events_needed(scn, self.radio, self.availability.always)
        if scn.round.mode == "async":
            self._fedbuff = FedBuff(self)  # its clients start with the server
        elif self.events_reason is not None:
            self._clients = [self.env.process(self._client(i)) for i in range(n)]

    def _medium(self, bandwidth_hz: float, sharing: str, rate: RateModel, power_concentration: bool) -> Any:
        site = self.radio.drop.site
        if site is None:
            return make_medium(self.env, bandwidth_hz, sharing, rate, power_concentration)
        cells = [
            make_medium(self.env, bandwidth_hz, sharing, rate, power_concentration) for _ in range(int(site.max()) + 1)
        ]
        return MultiCellMedium(cells, site)

    def run(self, on_round: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
        if self.events_reason is None:
            self.result.sim_time_s = FastRounds(self).run(on_round)
            return self.result
        driver = self._server(on_round) if self._fedbuff is None else self._fedbuff.server(on_round)
        server = self.env.process(driver)
        # A round allocates many short-lived events; the default GC threshold
        # triggers full collections that cost up to a third of the run time.
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
        try:
            # Until the server is done: clients cut off by the last deadline
            # may still hold pending timeouts that must not advance the clock.
            self.env.run(until=server)
        finally:
            gc.set_threshold(*threshold)
        self.result.sim_time_s = float(self.env.now)
        return self.result

    # ------------------------------------------------------------------ server

    def _server(self, on_round: Callable[[dict[str, Any]], None] | None) -> Any:
        start = self._first_round
        for r in range(self.scn.rounds):
            rnd = self._open_round(r)
            for ev in start:
                ev.succeed(rnd)
            start = rnd.next_round
            row = yield from self._close_round(rnd)
            self.result.rounds.append(row)
            if on_round is not None:
                on_round(row)

    def _open_round(self, r: int) -> RoundState:
        env, scn, med = self.env, self.scn, self.scn.medium
        n = scn.clients.count
        t0 = env.now
        rnd = RoundState(env, r, n, t0, t0 + scn.round.deadline_s)
        rnd.ul, dl = self.radio.link_states(t0, self._fading.draw(r))
        # Everybody, as before selection existed, unless a policy or availability says otherwise.
        members = None
        if self.selector is not None or not self.availability.always:
            members = self._members(t0, rnd.ul)
            rnd.restrict(members)
        who = range(n) if members is None else members.tolist()
        rnd.down = self.algorithm.broadcast(r)
        # Without a per-client downlink every client downloads the broadcast: no call per client.
        per_client = self.algorithm.downlink if self.algorithm.per_client_downlink else None
        multicast = med.downlink_mode == "multicast"
        common = None
        if per_client is not None and multicast:
            # A download that is the broadcast payload itself can go by multicast; any other is the client's own.
            downs = [per_client(i, r) for i in who]
            rnd.down_bits[list(who)] = [d.bits for d in downs]
            common = np.array([i for i, d in zip(who, downs) if d is rnd.down], dtype=np.int64)
        elif members is None:
            rnd.down_bits[:] = rnd.down.bits if per_client is None else [per_client(i, r).bits for i in range(n)]
        else:
            # Only the members download; the others' zeros keep the round's sums right.
            rnd.down_bits[members] = rnd.down.bits if per_client is None else [per_client(i, r).bits for i in who]
        m = n if members is None else int(members.shape[0])
        rnd.tx_dbm = self._uplink_power_dbm(members)
        snr_ul = rnd.ul.snr_linear
        if scn.clients.power_control == "open_loop":
            snr_ul = link_to_power(snr_ul, rnd.tx_dbm, scn.clients.tx_power_dbm)
        self.uplink.begin_round(snr_ul, m, rnd.ul.extra_loss, members)
        blocks = self.radio.block_ratios(t0, scn.round.deadline_s)
        if multicast:
            if common is None:
                common = np.arange(n, dtype=np.int64) if members is None else members
            self._open_multicast(rnd, dl, common[rnd.down_bits[common] > 0], who, blocks)
        else:
            self.downlink.begin_round(dl.snr_linear, m, dl.extra_loss, members)
            if blocks is not None:
                self.downlink.set_blocks(*blocks)
        if blocks is not None:  # fading within the round, per coherence block
            self.uplink.set_blocks(*blocks)
        unicast = np.array([i for i in who if i not in rnd.group_of], dtype=np.int64)
        if self.uniform_arq:
            rnd.ul_arq, dl_arq = self.arq_tables(r)
            tries, air, ok = arq_many(rnd.down_bits[unicast], med.packet_bits, dl_arq, unicast)
            rnd.dl_arq = {
                i: ArqOutcome(a, b, c) for i, a, b, c in zip(unicast.tolist(), tries.tolist(), air.tolist(), ok.tolist())
            }
        else:
            rnd.dl_arq = {
                i: self.arq(self.downlink, i, int(rnd.down_bits[i]), self._arq_dl[i]) for i in unicast.tolist()
            }
        if multicast:
            for g, v in enumerate(rnd.group_index):
                # Sent by the server at the round start, heard by the whole group.
                rnd.mc_transfer.append(self.downlink.transmit(v, rnd.mc[g].air_bits))
        if members is None:
            rnd.compute_s = np.array([self.algorithm.work_flop(i, r) for i in range(n)]) / self.speed_flops
        else:
            rnd.compute_s = np.zeros(n)
            rnd.compute_s[members] = np.array([self.algorithm.work_flop(i, r) for i in who]) / self.speed_flops[members]
            if not self.availability.always:
                for i in who:
                    off_s = self.availability.off_at(i, t0)
                    if off_s < rnd.deadline_abs:
                        env.process(self._offline(rnd, i, off_s))
        return rnd

    def arq_tables(self, r: int) -> tuple[ArqTables, ArqTables]:
        """(uplink, downlink) ARQ draws of round ``r``, after the media's begin_round."""
        m, n = self.scn.medium.max_attempts, self.scn.clients.count
        # [:n]: the clients' own rows (a multicast round adds its groups' virtual receivers after them).
        return (
            ArqTables(per_client(self.uplink, "_expected_bler")[:n], m, self._arq_u_ul.draw(r)),
            ArqTables(per_client(self.downlink, "_expected_bler")[:n], m, self._arq_u_dl.draw(r)),
        )

    def _members(self, t0: float, ul: Any) -> np.ndarray:
        """Clients taking part in the round starting at ``t0``: available, then selected."""
        available = self.availability.is_on(t0)
        if self.selector is None:
            return np.flatnonzero(available)
        return self.selector.select(available, ul.snr_db, ul.rate_bps)

    def arq(self, medium: Any, client: int, bits: int, rng: np.random.Generator) -> ArqOutcome:
        """What ARQ (or HARQ with chase combining) does to ``bits`` from/to ``client`` on ``medium`` this round."""
        med = self.scn.medium
        packet = self.packet_bits(medium, client)
        if med.combining == "chase":
            return harq_attempts(bits, packet, medium.harq_error_rates(client, med.max_attempts), rng)
        return arq_attempts(bits, packet, medium.expected_bler(client), med.max_attempts, rng)

    def packet_bits(self, medium: Any, client: int) -> int:
        """Bits per packet of ``client`` on ``medium`` this round: fixed, or its MCS's transport block."""
        if self.scn.medium.packet_size == "transport_block":
            return medium.tb_bits(client)
        return self.scn.medium.packet_bits

    def _uplink_power_dbm(self, members: np.ndarray | None) -> np.ndarray:
        """[num_clients] transmit power of each client this round [dBm] (open-loop power control, or the maximum)."""
        cl, n = self.scn.clients, self.scn.clients.count
        if cl.power_control == "off":
            return np.full(n, cl.tx_power_dbm)
        band_hz = self.radio.channel.bandwidth_ul_hz
        if self.scn.medium.uplink_sharing == "tdma":
            grant_hz: np.ndarray | float = band_hz  # the whole band, in turn
        else:
            # The expected share: the band over the participants of the client's cell.
            site = self.radio.drop.site if self.radio.drop.site is not None else np.zeros(n, dtype=np.int64)
            taking_part = np.ones(n, dtype=bool) if members is None else np.isin(np.arange(n), members)
            per_cell = np.bincount(site[taking_part], minlength=int(site.max()) + 1)
            grant_hz = band_hz / np.maximum(per_cell[site], 1)
            if self.scn.medium.min_allocation == "prb":
                grant_hz = np.maximum(grant_hz, min(self.prb_hz, band_hz))  # one PRB at a time, at least
        return pusch_power_dbm(cl.tx_power_dbm, cl.pc_p0_dbm, cl.pc_alpha, self.radio.coupling_db, grant_hz)

    def _open_multicast(self, rnd: RoundState, dl: Any, receivers: np.ndarray, who: Any, blocks: Any) -> None:
        """The downlink's round with one virtual receiver per cell for the clients that get the broadcast."""
        n, med = self.scn.clients.count, self.scn.medium
        site = self.radio.drop.site
        groups = multicast_groups(receivers, site)
        in_group = set(receivers.tolist())
        unicast = [i for i in who if i not in in_group]
        index = [n + g for g in range(len(groups))]
        snr, extra = extend_for_groups(dl.snr_linear, dl.extra_loss, groups)
        if isinstance(self.downlink, MultiCellMedium) and site is not None:
            self.downlink.set_virtual_sites(np.array([site[g[0]] for g in groups], dtype=np.int64))
        taking_part = np.array(unicast + index, dtype=np.int64)
        self.downlink.begin_round(snr, taking_part.shape[0], extra, taking_part)
        if blocks is not None:
            ratio, t0_s, block_s = blocks
            self.downlink.set_blocks(extend_blocks(ratio, dl.snr_linear, groups), t0_s, block_s)
        rnd.group_index = index
        extra_rx = np.broadcast_to(np.asarray(dl.extra_loss, dtype=float), (n,))
        for g, (v, members) in enumerate(zip(index, groups)):
            # Each receiver decodes the weakest's MCS (its block error taken at the weakest's SNR: an upper bound).
            p = 1.0 - (1.0 - self.downlink.expected_bler(v)) * (1.0 - extra_rx[members])
            cell = 0 if site is None else int(site[members[0]])
            out = multicast_arq(int(rnd.down.bits), self.packet_bits(self.downlink, v), p, med.max_attempts,
                                self._arq_mc[cell])
            rnd.mc.append(out)
            for i, ok in zip(members.tolist(), out.ok.tolist()):
                rnd.group_of[i], rnd.mc_ok[i] = g, ok

    def _offline(self, rnd: RoundState, i: int, at_s: float) -> Any:
        """Client i goes off at ``at_s``: whatever it is doing stops, what it spent is counted."""
        yield self.env.timeout(at_s - self.env.now)
        if rnd.closed or not rnd.busy[i]:
            return
        rnd.outcome[i] = OFFLINE
        rnd.stop_s[i] = self.env.now
        down = rnd.downloads[i]
        shared = i in rnd.group_of  # a multicast goes on for the rest of its group
        for medium, transfer in ((self.downlink, None if shared else down), (self.uplink, rnd.uploads.get(i))):
            if transfer is not None:
                medium.cancel(transfer)
        if down.cut or (shared and not (down.end_s is not None and down.end_s <= self.env.now)):
            rnd.compute_start[i] = np.nan  # the model never arrived
        self._clients[i].interrupt("offline")
        rnd.finish(i)

    def _close_round(self, rnd: RoundState) -> Any:
        """The round's end: wait for the close, resolve the outcomes, aggregate, evaluate, build the records."""
        yield from self._wait_for_close(rnd)
        close_s = self.env.now
        closed = self._resolve_outcomes(rnd)
        metrics = yield from self._aggregate(rnd, close_s, closed)
        return self.record_round(
            rnd.index, rnd.t0, float(self.env.now), close_s, rnd.ul, rnd.members, rnd.stop_s, rnd.compute_start,
            rnd.compute_s, rnd.outcome, rnd.budget_bits, rnd.k, closed.payload_bits, rnd.down_bits, closed.airtime_s,
            closed.attempts, metrics, end_s=rnd.end_s, tx_dbm=rnd.tx_dbm, down_airtime=closed.down_airtime_s,
            down_air_bits=closed.down_air_bits, down_air_s=closed.down_air_s,
        )

    def _wait_for_close(self, rnd: RoundState) -> Any:
        """Until every participant is through or the deadline; then transfers still in the air are cut."""
        env = self.env
        yield env.any_of([env.timeout(self.scn.round.deadline_s), rnd.all_done])
        # Wait for the last bits still propagating, never past the deadline.
        last = float(rnd.arrival[np.isfinite(rnd.arrival)].max(initial=env.now))
        if env.now < min(last, rnd.deadline_abs):
            yield env.timeout(min(last, rnd.deadline_abs) - env.now)
        rnd.closed = True
        self.uplink.abort()
        self.downlink.abort()
        for c in np.flatnonzero(rnd.busy).tolist():
            self._clients[c].interrupt("deadline")

    def _resolve_outcomes(self, rnd: RoundState) -> ClosedRound:
        """Each upload's outcome (in ``rnd.outcome``), what went on the air, and what is handed to aggregation."""
        n = self.scn.clients.count
        closed = ClosedRound(n)
        for i, t in rnd.downloads.items():
            closed.down_airtime_s[i] = t.airtime_s
        # On the air: each unicast and each multicast once, retransmissions in, cut ones as far as they got.
        on_air = [t for i, t in rnd.downloads.items() if i not in rnd.group_of] + rnd.mc_transfer
        closed.down_air_bits = float(sum(t.sent_bits if t.cut else t.bits for t in on_air))
        closed.down_air_s = float(sum(t.airtime_s for t in on_air))
        for i, t in rnd.uploads.items():
            closed.airtime_s[i] = t.airtime_s
            # A cut upload sent only the packets it had started.
            closed.attempts[i] = rnd.arq[i].attempts if not t.cut else min(
                rnd.arq[i].attempts, math.ceil(t.sent_bits / self.packet_bits(self.uplink, i))
            )
            closed.payload_bits[i] = rnd.payloads[i].bits
            # Judged on the arrival time itself, so an upload landing exactly at
            # the deadline counts whatever order SimPy processes the two events.
            if t.completed and rnd.arrival[i] <= rnd.deadline_abs:
                rnd.outcome[i] = DELIVERED if rnd.arq[i].ok else ARQ_FAILURE
        # Aggregate in arrival order (ties by client id) so the order is reproducible.
        for i in sorted(rnd.uploads, key=lambda c: (rnd.arrival[c], c)):
            if rnd.outcome[i] == DELIVERED:
                closed.delivered[i] = rnd.payloads[i]
        for i in range(n) if rnd.members is None else rnd.members.tolist():
            if rnd.outcome[i] != DELIVERED:
                closed.failures[i] = OUTCOMES[rnd.outcome[i]]
        return closed

    def _aggregate(self, rnd: RoundState, close_s: float, closed: ClosedRound) -> Any:
        """Hand the round to the algorithm (downloads, delivered payloads beside the failures), then evaluate."""
        scn, r = self.scn, rnd.index
        if self.algorithm.tracks_downloads:
            # compute_start is set once the download (and its propagation) is through.
            for i in np.flatnonzero(rnd.compute_start <= close_s).tolist():
                self.algorithm.downloaded(i, r)
        self.algorithm.aggregate(r, closed.delivered, closed.failures)
        if scn.round.aggregation_s > 0:
            yield self.env.timeout(scn.round.aggregation_s)
        # Evaluation is the costliest step of a small run: every N rounds, and always the last.
        every = scn.workload.eval_every
        metrics: dict[str, float] = self.algorithm.evaluate(r) if (r + 1) % every == 0 or r == scn.rounds - 1 else {}
        return metrics

    def record_round(
        self, r: int, t0: float, now_s: float, close_s: float, ul: Any, members: np.ndarray | None,
        stop_s: np.ndarray, compute_start: np.ndarray, compute_s: np.ndarray, outcome: np.ndarray,
        budget_bits: np.ndarray, k: np.ndarray, payload_bits: np.ndarray, down_bits: np.ndarray,
        airtime: np.ndarray, attempts: np.ndarray, metrics: dict[str, float], *, end_s: np.ndarray,
        tx_dbm: np.ndarray, down_airtime: np.ndarray, down_air_bits: float, down_air_s: float,
    ) -> dict[str, Any]:
        """Append round ``r``'s per-client columns (arrays over every client) and return its rounds.csv row.

        end_s : [n] when each client's part in the round ended (nan: at the close) [s], for its waiting energy
        tx_dbm : [n] uplink transmit power; down_airtime : [n] time on the air of each client's download [s]
        down_air_bits, down_air_s : what the downlink put on the air this round [bit], [s]

        Both round drivers end here, so their records are built by one piece of code.
        """
        scn, n = self.scn, self.scn.clients.count
        stop = close_s if members is None else np.minimum(close_s, stop_s)
        computed = np.clip(stop - compute_start, 0.0, compute_s)
        computed = np.where(np.isnan(computed), 0.0, computed)
        busy = np.where(np.isnan(end_s), close_s, end_s) - t0
        energy = client_energy_j(scn.clients.device, dbm_to_w(tx_dbm), computed, airtime, down_airtime, busy)
        is_delivered = outcome == DELIVERED
        if self.selector is not None and members is not None:
            self.selector.update(r, members, is_delivered[members], ul.rate_bps)
        columns = {
            "round": np.full(n, r, dtype=np.int64),
            "client": np.arange(n, dtype=np.int64),
            "distance_m": self.radio.drop.distance_2d_m,
            "pathloss_db": self.radio.pathloss_db,
            "snr_db": ul.snr_db,
            "rate_bps": ul.rate_bps,
            "budget_bits": budget_bits,
            "k": k,
            "payload_bits": payload_bits,
            "downlink_bits": down_bits,
            "client_storage_bytes": self._storage,
            "airtime_s": airtime,
            "attempts": attempts,
            "delivered": is_delivered.astype(np.int64),
            "compute_s": compute_s,
            "energy_j": energy,
            "outcome": outcome,
            "downlink_airtime_s": down_airtime,
            "tx_power_dbm": tx_dbm,
        }
        cols = self.result.clients
        for name, values in client_columns(columns, CLIENT_COLUMNS).items():
            # One row per participant: the round's arrays cover every client.
            cols[name].append(values if members is None else values[members])

        taking_part = n if members is None else int(members.shape[0])
        if members is not None:
            payload_bits, is_delivered = payload_bits[members], is_delivered[members]
            airtime, energy = airtime[members], energy[members]
        return round_row(r, float(now_s), float(now_s - t0), taking_part, is_delivered, payload_bits,
                         down_bits, airtime, energy, k, self.result.rounds, metrics,
                         down_air_bits=float(down_air_bits), down_airtime_s=float(down_air_s))

    # ------------------------------------------------------------------ client

    def _client(self, i: int) -> Any:
        """Client i for the whole run: one pass per round, cut short by the deadline."""
        rnd = yield self._first_round[i]
        while True:
            if rnd.selected is None or rnd.selected[i]:
                try:
                    yield from self._client_round(rnd, i)
                except simpy.Interrupt:
                    pass  # the server closed the round, or the client went offline; its records say why
            rnd = yield rnd.next_round[i]

    def _client_round(self, rnd: RoundState, i: int) -> Any:
        env, med, ul = self.env, self.scn.medium, rnd.ul
        latency = float(ul.latency_s[i])
        g = rnd.group_of.get(i)
        if g is None:
            dl_arq = rnd.dl_arq[i]
            down, down_ok = self.downlink.transmit(i, dl_arq.air_bits), dl_arq.ok
        else:
            down, down_ok = rnd.mc_transfer[g], rnd.mc_ok[i]
        rnd.downloads[i] = down
        if down_ok and down.end_s is not None and math.isfinite(down.end_s):
            # The end is known already (scheduled sharing): wait once for
            # download, propagation and compute together; one event fewer.
            rnd.compute_start[i] = down.end_s + latency
            yield env.timeout(down.end_s - env.now + latency + rnd.compute_s[i])
        else:
            yield down.done
            if not down_ok:
                rnd.outcome[i] = DOWNLINK_FAILURE
                rnd.finish(i)
                return
            rnd.compute_start[i] = env.now + latency
            yield env.timeout(latency + rnd.compute_s[i])
        time_left = rnd.deadline_abs - env.now - latency
        bler = self.uplink.expected_bler(i)
        goodput = self.uplink.expected_rate_bps(i) * (1.0 - bler)
        # Clamped to int64: the records' budget_bits column (a link can carry more than 2^63 bits in theory).
        bits = min(int(goodput * time_left), 2**63 - 1) if time_left > 0 else 0
        # The SNR at the client's own transmit power (below the maximum under power control).
        snr_db = float(ul.snr_db[i] + rnd.tx_dbm[i] - self.scn.clients.tx_power_dbm)
        budget = Budget(bits, goodput, snr_db, time_left)
        rnd.budget_bits[i] = budget.max_bits
        payload = self.algorithm.local_update(i, rnd.index, budget)
        if payload is None:
            rnd.outcome[i] = SKIPPED
            rnd.finish(i)
            return
        if payload.k is not None:
            rnd.k[i] = payload.k
        if rnd.ul_arq is not None:
            arq = arq_one(payload.bits, med.packet_bits, rnd.ul_arq, i)
        else:
            arq = self.arq(self.uplink, i, payload.bits, self._arq_ul[i])
        rnd.payloads[i], rnd.arq[i] = payload, arq
        transfer = self.uplink.transmit(i, arq.air_bits)
        rnd.uploads[i] = transfer
        yield transfer.done
        rnd.arrival[i] = env.now + latency
        rnd.finish(i)


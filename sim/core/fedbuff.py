"""Asynchronous buffered aggregation (FedBuff, Nguyen et al., AISTATS 2022).

Every client is one long-lived SimPy process that cycles, while it is
available: download the server's latest model version ``v`` -> compute ->
upload.  The server buffers arriving updates and aggregates every
``round.buffer_size`` (K) of them into version ``v + 1``; each update is
weighted by ``s(tau)``, ``tau`` its staleness, the model versions the server
advanced between the client's download and the update's arrival:

- ``constant``: ``s = 1``;
- ``polynomial``: ``s = (1 + tau)^-a`` (FedBuff's and FedAsync's choice);
- ``hinge``: ``s = 1`` for ``tau <= b``, else ``1 / (a (tau - b) + 1)``
  (FedAsync, Xie et al. 2019).

Updates staler than ``round.max_staleness`` are dropped (outcome ``stale``),
and so is an update still in the buffer when the same client's next one
arrives (the buffer holds one update per client, so ``K <= N`` fills).
One cycle may take at most ``round.deadline_s`` (outcome ``deadline``); a
client that goes off mid-cycle fails ``offline`` and starts again when it is
back on.  The weight reaches the algorithm in ``Payload.meta``
(``staleness``, ``staleness_weight``, ``version``); the algorithm's
``pull(client, version)`` is called when a download arrives: its next
``local_update(client, version, budget)`` starts from that model.

The channel is drawn once per model version (block fading per version;
with fading within transfers, its blocks cover one ``deadline_s`` from the
draw, the last block holding after it).  One record round is
one aggregation; its client rows are the cycles that ended since the last
one, with the staleness of each delivered or stale update.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.core.columns import client_columns, round_row
from sim.core.energy import client_energy_j
from sim.core.outcome import Outcome
from workloads.base import Budget, Payload

if TYPE_CHECKING:
    from sim.core.engine import Engine

__all__ = ["staleness_weight", "FedBuff"]


def staleness_weight(tau: int, kind: str, a: float, b: int) -> float:
    """s(tau) of an update ``tau`` model versions stale."""
    if tau < 0:
        raise ValueError(f"staleness must be >= 0, got {tau}")
    if kind == "constant":
        return 1.0
    if kind == "polynomial":
        return float((1.0 + tau) ** -a)
    if kind == "hinge":
        return 1.0 if tau <= b else 1.0 / (a * (tau - b) + 1.0)
    raise ValueError(f"staleness weighting {kind!r} is not one of constant, polynomial, hinge")


class FedBuff:
    """The asynchronous driver on an :class:`~sim.core.engine.Engine`'s clock, media and streams."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.env = engine.env
        self.version = 0  # the server's model version: aggregations so far
        self.draw = 0
        self.buffer: list[tuple[int, Payload]] = []
        self._buffered: dict[int, dict[str, Any]] = {}  # client -> the record of its buffered update
        self.rows: list[dict[str, Any]] = []  # cycles ended since the last aggregation
        self.full = self.env.event()
        self.done = False
        self.log: list[tuple[float, str, int, int]] = []  # (time, event, client, version): tests and debugging
        self._cycle_id = np.zeros(engine.scn.clients.count, dtype=np.int64)

    # ------------------------------------------------------------------ server

    def server(self, on_round: Callable[[dict[str, Any]], None] | None) -> Any:
        e, scn = self.e, self.e.scn
        self._new_draw()
        e.algorithm.broadcast(0)
        self.procs = procs = [self.env.process(self._client(i)) for i in range(scn.clients.count)]
        t_last = 0.0
        for r in range(scn.rounds):
            yield self.full
            self.full = self.env.event()
            taken, self.buffer, self._buffered = self.buffer, [], {}
            rows, self.rows = self.rows, []
            payloads = {c: p for c, p in taken}
            failures = {row["client"]: row["outcome"].label for row in rows if row["outcome"] != Outcome.DELIVERED}
            for c in payloads:
                failures.pop(c, None)
            e.algorithm.aggregate(r, payloads, failures)
            self.log.append((float(self.env.now), "aggregate", -1, self.version))
            if scn.round.aggregation_s > 0:
                yield self.env.timeout(scn.round.aggregation_s)
            self.version += 1
            e.algorithm.broadcast(self.version)
            self._new_draw()
            every = scn.workload.eval_every  # as in sync rounds: every N record rounds and always the last
            metrics = e.algorithm.evaluate(r) if (r + 1) % every == 0 or r == scn.rounds - 1 else {}
            row = self._record(r, rows, t_last, metrics)
            t_last = float(self.env.now)
            e.result.rounds.append(row)
            if on_round is not None:
                on_round(row)
        self.done = True
        for p in procs:
            if p.is_alive:
                p.interrupt("end")

    def _new_draw(self) -> None:
        e, n = self.e, self.e.scn.clients.count
        self.ul, dl = e.radio.link_states(self.env.now, e._fading.draw(self.draw))
        self.draw += 1
        e.uplink.begin_round(self.ul.snr_linear, n, self.ul.extra_loss)
        e.downlink.begin_round(dl.snr_linear, n, dl.extra_loss)
        # Fading within transfers over one longest cycle from the draw; the last block holds after it.
        blocks = e.radio.block_ratios(self.env.now, e.scn.round.deadline_s)
        if blocks is not None:
            e.uplink.set_blocks(*blocks)
            e.downlink.set_blocks(*blocks)

    def _arrive(self, client: int, payload: Payload, rec: dict[str, Any]) -> None:
        # One update per client in the buffer (the aggregation maps client -> payload): a newer one
        # replaces the client's older one, which is dropped as stale.  So K <= N always fills.
        for k, (c, _) in enumerate(self.buffer):
            if c == client:
                del self.buffer[k]
                self._buffered.pop(client)["outcome"] = Outcome.STALE
                break
        self.buffer.append((client, payload))
        self._buffered[client] = rec
        if len(self.buffer) >= self.e.scn.round.buffer_size and not self.full.triggered:
            self.full.succeed()

    # ------------------------------------------------------------------ client

    def _client(self, i: int) -> Any:
        av = self.e.availability
        while not self.done:
            if not av.always:
                t_on = av.on_at(i, self.env.now)
                if not math.isfinite(t_on):
                    return
                if t_on > self.env.now:
                    try:
                        yield self.env.timeout(t_on - self.env.now)
                    except simpy.Interrupt:
                        return
            # Let an aggregation due at this instant (perhaps completed by this client's own
            # arrival) finish first, so that the next download is of the newest model.
            try:
                yield self.env.timeout(0.0)
            except simpy.Interrupt:
                return
            if self.done:
                return
            off_s = av.off_at(i, self.env.now)
            rec: dict[str, Any] = {"client": i, "t0": float(self.env.now), "version": self.version}
            self._cycle_id[i] += 1
            deadline_s = self.env.now + self.e.scn.round.deadline_s
            why = Outcome.OFFLINE if off_s <= deadline_s else Outcome.DEADLINE
            self.env.process(self._watch(i, int(self._cycle_id[i]), min(deadline_s, off_s), why))
            try:
                yield from self._cycle(i, rec)
            except simpy.Interrupt as stop:
                if stop.cause == "end":
                    return
                rec["outcome"] = stop.cause
                rec["stop_s"] = float(self.env.now)
                for medium, key in ((self.e.downlink, "down"), (self.e.uplink, "up")):
                    if key in rec:
                        medium.cancel(rec[key])
            self._cycle_id[i] += 1  # the watchdog of this cycle is void
            self._finish(rec)

    def _watch(self, i: int, cycle: int, at_s: float, why: Outcome) -> Any:
        yield self.env.timeout(max(0.0, at_s - self.env.now))
        if not self.done and self._cycle_id[i] == cycle:
            self.procs[i].interrupt(why)

    def _cycle(self, i: int, rec: dict[str, Any]) -> Any:
        e, env = self.e, self.env
        ul, v = self.ul, rec["version"]
        latency = float(ul.latency_s[i])
        rec["snr_db"], rec["rate_bps"] = float(ul.snr_db[i]), float(ul.rate_bps[i])
        per_client = getattr(e.algorithm, "downlink", None)
        rec["down_bits"] = down_bits = (per_client(i, v) if per_client else e.algorithm.broadcast(v)).bits
        dl_arq = e.arq(e.downlink, i, int(down_bits), e._arq_dl[i])
        rec["down"] = e.downlink.transmit(i, dl_arq.air_bits)
        yield rec["down"].done
        if not dl_arq.ok:
            rec["outcome"] = Outcome.DOWNLINK_FAILURE
            return
        yield env.timeout(latency)
        pull = getattr(e.algorithm, "pull", None)
        if pull is not None:
            pull(i, v)
        self.log.append((float(env.now), "download", i, v))
        rec["compute_start"] = float(env.now)
        rec["compute_s"] = e.algorithm.work_flop(i, v) / float(e.speed_flops[i])
        yield env.timeout(rec["compute_s"])
        time_left = rec["t0"] + e.scn.round.deadline_s - env.now - latency
        bler = e.uplink.expected_bler(i)
        goodput = e.uplink.expected_rate_bps(i) * (1.0 - bler)
        budget = Budget(int(goodput * time_left) if time_left > 0 else 0, goodput, rec["snr_db"], time_left)
        rec["budget_bits"] = budget.max_bits
        payload = e.algorithm.local_update(i, v, budget)
        if payload is None:
            rec["outcome"] = Outcome.SKIPPED
            return
        rec["payload"] = payload
        arq = e.arq(e.uplink, i, payload.bits, e._arq_ul[i])
        rec["arq"], rec["packet_bits"] = arq, e.packet_bits(e.uplink, i)
        rec["up"] = e.uplink.transmit(i, arq.air_bits)
        yield rec["up"].done
        yield env.timeout(latency)
        if not arq.ok:
            rec["outcome"] = Outcome.ARQ_FAILURE
            return
        rc = e.scn.round
        tau = self.version - v
        rec["staleness"] = tau
        self.log.append((float(env.now), "arrive", i, tau))
        if rc.max_staleness is not None and tau > rc.max_staleness:
            rec["outcome"] = Outcome.STALE
            return
        payload.meta.update(
            staleness=float(tau),
            staleness_weight=staleness_weight(tau, rc.staleness_weighting, rc.staleness_a, rc.staleness_b),
            version=float(v),
        )
        rec["outcome"] = Outcome.DELIVERED
        self._arrive(i, payload, rec)

    def _finish(self, rec: dict[str, Any]) -> None:
        rec.setdefault("stop_s", float(self.env.now))
        self.rows.append(rec)

    # ------------------------------------------------------------------ records

    def _record(self, r: int, rows: list[dict[str, Any]], t_last: float, metrics: dict[str, float]) -> dict[str, Any]:
        """Append aggregation r's client rows to the result; return its rounds.csv row."""
        e, scn = self.e, self.e.scn
        m = len(rows)
        idx = np.array([row["client"] for row in rows], dtype=np.int64)
        airtime = np.array([row["up"].airtime_s if "up" in row else 0.0 for row in rows])
        payload_bits = np.array([row["payload"].bits if "payload" in row else 0 for row in rows], dtype=np.int64)
        attempts = np.zeros(m, dtype=np.int64)
        for j, cyc in enumerate(rows):
            if "up" in cyc:
                t = cyc["up"]
                attempts[j] = cyc["arq"].attempts if not t.cut else min(
                    cyc["arq"].attempts, math.ceil(t.sent_bits / cyc["packet_bits"])
                )
        compute_s = np.array([row.get("compute_s", 0.0) for row in rows])
        computed = np.array([
            min(max(row["stop_s"] - row["compute_start"], 0.0), row["compute_s"]) if "compute_s" in row else 0.0
            for row in rows
        ])
        downs = [row.get("down") for row in rows]
        down_airtime = np.array([0.0 if t is None else t.airtime_s for t in downs])
        down_air_bits = float(sum(t.sent_bits if t.cut else t.bits for t in downs if t is not None))
        busy = np.array([row["stop_s"] - row["t0"] for row in rows])
        energy = client_energy_j(scn.clients.device, e.tx_power_w, computed, airtime, down_airtime, busy)
        outcome = np.array([row["outcome"].value for row in rows], dtype=np.int8)
        delivered = (outcome == Outcome.DELIVERED.value).astype(np.int64)
        k = np.array([row["payload"].k if "payload" in row and row["payload"].k is not None else -1 for row in rows],
                     dtype=np.int64)
        down_bits = np.array([row.get("down_bits", 0) for row in rows], dtype=np.int64)
        columns = {
            "round": np.full(m, r, dtype=np.int64),
            "client": idx,
            "distance_m": e.radio.drop.distance_2d_m[idx],
            "pathloss_db": e.radio.pathloss_db[idx],
            "snr_db": np.array([row["snr_db"] for row in rows]),
            "rate_bps": np.array([row["rate_bps"] for row in rows]),
            "budget_bits": np.array([row.get("budget_bits", 0) for row in rows], dtype=np.int64),
            "k": k,
            "payload_bits": payload_bits,
            "downlink_bits": down_bits,
            "client_storage_bytes": e._storage[idx],
            "airtime_s": airtime,
            "attempts": attempts,
            "delivered": delivered,
            "compute_s": compute_s,
            "energy_j": energy,
            "outcome": outcome,
            "downlink_airtime_s": down_airtime,
            "tx_power_dbm": np.full(m, scn.clients.tx_power_dbm),
            "staleness": np.array([row.get("staleness", -1) for row in rows], dtype=np.int64),
        }
        for name, values in client_columns(columns, e.result.columns).items():
            e.result.clients[name].append(values)

        return round_row(r, float(self.env.now), float(self.env.now - t_last), m, delivered, payload_bits, down_bits,
                         airtime, energy, k, e.result.rounds, metrics,
                         down_air_bits=down_air_bits, down_airtime_s=float(down_airtime.sum()))

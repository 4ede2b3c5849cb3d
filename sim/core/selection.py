"""Who is selected each synchronous round: M of the available clients, by policy.

Policies (``clients.selection``), each over the clients available at the
round start:

- ``uniform``: M without replacement, from a generator of its own
  (``rng`` purpose ``selection``), drawn once per round whatever the
  algorithm, so two algorithms on one seed select the same clients (common
  random numbers);
- ``round_robin``: a deterministic cycle over client indices: each round
  takes the next M available clients after the last one served;
- ``best_channel``: the M highest uplink SNRs of this round's channel draw,
  ties by index;
- ``proportional_fair``: the M largest ratios of instant rate to the
  exponentially averaged served rate ``T_i <- (1 - 1/t_c) T_i + r_i / t_c``
  (``r_i`` the instant rate when served, 0 otherwise; ``t_c`` in rounds); a
  client never served has ratio infinity, ties by rate then index;
- ``age``: the M clients whose last delivered update is oldest (never
  delivered = oldest), ties by SNR then index.

A selector is stateful (round-robin pointer, served-rate averages, ages) and
must see every round in order: :meth:`Selector.select` then
:meth:`Selector.update`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.core.rng import generator

__all__ = ["POLICIES", "async_algorithms", "Selector", "check_participation"]

POLICIES = ("uniform", "round_robin", "best_channel", "proportional_fair", "age")


class Selector:
    """Selection state for one run.

    num_clients : N
    per_round : M (at most N); fewer are selected when fewer are available
    """

    def __init__(self, policy: str, num_clients: int, per_round: int, seed: int, pf_time_constant_rounds: float = 10.0) -> None:
        if policy not in POLICIES:
            raise ValueError(f"selection policy {policy!r} is not one of {', '.join(POLICIES)}")
        if not 1 <= per_round <= num_clients:
            raise ValueError(f"per_round must be in 1..{num_clients}, got {per_round}")
        if not pf_time_constant_rounds >= 1:
            raise ValueError(f"pf_time_constant_rounds must be >= 1, got {pf_time_constant_rounds}")
        self.policy, self.n, self.m = policy, num_clients, per_round
        self.tc = float(pf_time_constant_rounds)
        self._rng = generator(seed, "selection")
        self._next = 0  # round_robin: first client index to consider
        self._served_bps = np.zeros(num_clients)  # proportional_fair: T_i
        self._last_delivered = np.full(num_clients, -1, dtype=np.int64)  # age: round of last delivery

    def select(self, available: np.ndarray, snr_db: np.ndarray, rate_bps: np.ndarray) -> np.ndarray:
        """Indices (increasing) of the clients selected this round.

        available : [N] bool, who can take part now
        snr_db, rate_bps : [N] this round's uplink draw
        """
        cand = np.flatnonzero(available)
        m = min(self.m, cand.shape[0])
        if self.policy == "uniform":
            # One draw per round even when nobody is available keeps the stream aligned across runs.
            u = self._rng.random(self.n)
            picked = cand[np.argsort(u[cand], kind="stable")[:m]]
        elif self.policy == "round_robin":
            order = (cand - self._next) % self.n
            picked = cand[np.argsort(order, kind="stable")[:m]]
            if m:
                self._next = (int(picked[np.argmax((picked - self._next) % self.n)]) + 1) % self.n
        elif self.policy == "best_channel":
            picked = cand[np.lexsort((cand, -snr_db[cand]))[:m]]
        elif self.policy == "proportional_fair":
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(self._served_bps[cand] > 0, rate_bps[cand] / self._served_bps[cand], np.inf)
            picked = cand[np.lexsort((cand, -rate_bps[cand], -ratio))[:m]]
        else:
            picked = cand[np.lexsort((cand, -snr_db[cand], self._last_delivered[cand]))[:m]]
        return np.sort(picked)

    def update(self, round_index: int, selected: np.ndarray, delivered: np.ndarray, rate_bps: np.ndarray) -> None:
        """After the round: ``delivered`` [len(selected)] bool; ``rate_bps`` [N] the round's instant rates."""
        if self.policy == "proportional_fair":
            served = np.zeros(self.n)
            served[selected] = rate_bps[selected]
            self._served_bps += (served - self._served_bps) / self.tc
        elif self.policy == "age":
            self._last_delivered[selected[delivered]] = round_index


def async_algorithms() -> list[str]:
    """The registered algorithms that can run asynchronously (sim.core.fedbuff): their configs say so.

    An update must be applicable to a newer model than the one it was computed on.
    """
    from sim.config.workload_schema import workload_configs

    return sorted((n for n, cls in workload_configs().items() if cls.asynchronous), key=lambda n: (n != "none", n))


def check_participation(scn: Any) -> tuple[tuple[Any, ...], str] | None:
    """Cross-key problems of the clients' participation and the round mode, as (location, problem)."""
    cl, rc = scn.clients, scn.round
    if cl.per_round is not None and cl.per_round > cl.count:
        return ("clients", "per_round"), f"{cl.per_round} is more than clients.count={cl.count}"
    if cl.availability == "trace":
        if cl.availability_trace is None:
            return ("clients", "availability_trace"), "is required when availability is trace"
        if not Path(cl.availability_trace).is_file():
            return ("clients", "availability_trace"), f"no such file {cl.availability_trace!r}"
        from sim.core.availability import read_availability_trace

        try:
            read_availability_trace(cl.availability_trace, cl.count)
        except ValueError as err:
            return ("clients", "availability_trace"), str(err)
    elif cl.availability_trace is not None:
        return ("clients", "availability_trace"), f"applies to availability trace only (availability is {cl.availability})"
    if rc.mode == "async":
        if rc.buffer_size > cl.count:
            return ("round", "buffer_size"), f"{rc.buffer_size} is more than clients.count={cl.count}"
        if cl.per_round is not None:
            return ("clients", "per_round"), "applies to sync rounds only (async runs every available client)"
        if "tdma" in (scn.medium.uplink_sharing, scn.medium.downlink_sharing):
            return ("round", "mode"), "async cannot share the band by tdma (its queue is rebuilt at every round)"
        if not type(scn.workload).asynchronous:
            return ("round", "mode"), (
                f"async cannot run {scn.workload.algorithm}: its uploads are knowledge of one round's public-set "
                f"state, not updates a newer model can apply; async runs {', '.join(async_algorithms())}"
            )
    return None

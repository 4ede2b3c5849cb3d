"""The state of one synchronous round, shared by the server and the client processes, and what its close resolved."""

from __future__ import annotations

from typing import Any

import numpy as np
import simpy

from sim.core.medium import ArqOutcome, Transfer
from sim.core.multicast import MulticastOutcome
from sim.core.outcome import Outcome
from workloads.base import Payload

__all__ = ["ClosedRound", "RoundState"]

# The codes stored in the per-client arrays (sim.core.outcome), as plain ints: numpy
# compares a scalar with an IntEnum member some 50 times slower than with an int.
DELIVERED, DEADLINE, ARQ_FAILURE, DOWNLINK_FAILURE, SKIPPED, OFFLINE, STALE = (o.value for o in Outcome)


class RoundState:
    """Per-round state shared by the server and the client processes."""

    def __init__(self, env: simpy.Environment, index: int, n: int, t0: float, deadline_abs: float) -> None:
        self.env = env
        self.index, self.t0, self.deadline_abs = index, t0, deadline_abs
        self.end_s = np.full(n, np.nan)  # when each client's part in the round ended (nan: at the close)
        self.closed = False
        self.pending = n
        self.all_done = env.event()
        # One start event per client, triggered in client order: every round's
        # transfers then start in client order, not in the order the clients
        # finished the round before (which decided tdma's queue).
        self.next_round = [env.event() for _ in range(n)]
        self.busy = np.ones(n, dtype=bool)
        self.outcome = np.full(n, DEADLINE, dtype=np.int8)  # codes into OUTCOMES
        self.budget_bits = np.zeros(n, dtype=np.int64)
        self.k = np.full(n, -1, dtype=np.int64)
        self.compute_start = np.full(n, np.nan)
        self.arrival = np.full(n, np.inf)
        self.payloads: dict[int, Payload] = {}
        self.arq: dict[int, ArqOutcome] = {}
        self.uploads: dict[int, Transfer] = {}
        self.downloads: dict[int, Transfer] = {}
        self.members: np.ndarray | None = None  # who takes part (None = every client)
        self.selected: np.ndarray | None = None  # [n] bool mask of members
        self.stop_s = np.full(n, np.inf)  # when a client went offline
        # Filled by the server before the round starts.
        self.ul: Any = None
        self.down = Payload(0)
        self.down_bits = np.zeros(n, dtype=np.int64)  # what each client downloads this round
        self.dl_arq: dict[int, ArqOutcome] = {}
        self.ul_arq: Any = None  # sim.core.arq.ArqTables of the round's uploads
        # Multicast (medium.downlink_mode): per group its virtual receiver, ARQ and transfer; per receiver its group.
        self.group_index: list[int] = []
        self.mc: list[MulticastOutcome] = []
        self.mc_transfer: list[Transfer] = []
        self.group_of: dict[int, int] = {}
        self.mc_ok: dict[int, bool] = {}
        self.compute_s = np.empty(0)
        self.tx_dbm = np.empty(0)  # each client's uplink transmit power this round

    def restrict(self, members: np.ndarray) -> None:
        """Only ``members`` (client indices) take part this round."""
        self.members = members
        self.selected = np.zeros(self.busy.shape[0], dtype=bool)
        self.selected[members] = True
        self.busy &= self.selected
        self.pending = int(members.shape[0])
        if self.pending == 0:
            self.all_done.succeed()

    def finish(self, client: int) -> None:
        self.end_s[client] = self.env.now
        self.busy[client] = False
        self.pending -= 1
        if self.pending == 0:
            self.all_done.succeed()


class ClosedRound:
    """What the close of a round resolved; arrays are [num_clients].

    airtime_s, attempts, payload_bits : each upload's time on the air, packet transmissions and size
    down_airtime_s : time on the air of each client's download [s]
    down_air_bits, down_air_s : what the downlink put on the air (each unicast and multicast once)
    delivered : payloads that arrived in time and intact, in arrival order; failures : why the others did not
    """

    def __init__(self, n: int) -> None:
        self.airtime_s = np.zeros(n)
        self.attempts = np.zeros(n, dtype=np.int64)
        self.payload_bits = np.zeros(n, dtype=np.int64)
        self.down_airtime_s = np.zeros(n)
        self.down_air_bits = 0.0
        self.down_air_s = 0.0
        self.delivered: dict[int, Payload] = {}
        self.failures: dict[int, str] = {}

"""Seeded random streams: one generator per (purpose, client).

Each stream comes from ``SeedSequence(seed, spawn_key=(purpose, client))``, so
client i's draws do not depend on how many clients there are, and two runs
that differ only in the algorithm see the same channel (common random
numbers).  Nothing in fedwave touches global random state.
"""

from __future__ import annotations

import numpy as np

from workloads.base import SEED_PURPOSE as _WORKLOAD_PURPOSE

__all__ = ["PURPOSES", "branch", "client_generators", "generator", "RoundNormals"]

# Stable ids: changing one reshuffles every run that uses it.
PURPOSES = {
    "placement": 1,
    "los": 2,
    "shadowing": 3,
    "fading": 4,
    "device": 5,
    "arq_uplink": 6,
    "arq_downlink": 7,
    # The algorithm's own branch (8): it spawns its data, init and client streams from it.
    "workload": _WORKLOAD_PURPOSE,
    "los_phase": 9,
    "mobility": 10,
    "burst_loss": 11,
    "shadowing_motion": 12,
    "fading_process": 13,
    "arq_multicast": 14,
    "los_motion": 15,
    # Who takes part (sim.selection, sim.availability).
    "selection": 21,
    "availability": 22,
}


def branch(seed: int, purpose: str, *index: int) -> np.random.SeedSequence:
    """The seed tree's node for one purpose (and client, round or other index)."""
    return np.random.SeedSequence(seed, spawn_key=(PURPOSES[purpose], *index))


def generator(seed: int, purpose: str, *index: int) -> np.random.Generator:
    """The generator for one purpose and one client, round or other index."""
    return np.random.default_rng(branch(seed, purpose, *index))


def client_generators(seed: int, purpose: str, num_clients: int) -> list[np.random.Generator]:
    return [generator(seed, purpose, i) for i in range(num_clients)]


class RoundNormals:
    """Standard normals [num_clients, width] for draw 0, 1, 2, ... in order.

    Each client's numbers come from its own generator; they are drawn
    ``chunk`` draws at a time so a round costs one array slice, not one
    Python call per client.
    """

    def __init__(self, gens: list[np.random.Generator], width: int, chunk: int = 32) -> None:
        self.gens, self.width, self.chunk = gens, width, chunk
        self._block = np.empty((len(gens), 0, width))
        self._start = 0

    def draw(self, index: int) -> np.ndarray:
        if index < self._start:
            raise ValueError(f"draw {index} was already consumed (streams only move forward)")
        while index >= self._start + self._block.shape[1]:
            self._start += self._block.shape[1]
            self._block = np.stack([g.standard_normal((self.chunk, self.width)) for g in self.gens])
        return self._block[:, index - self._start, :]

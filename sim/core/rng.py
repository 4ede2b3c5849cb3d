"""Seeded random streams: one generator per (purpose, client).

Each stream comes from ``SeedSequence(seed, spawn_key=(purpose, client))``, so
client i's draws do not depend on how many clients there are, and two runs
that differ only in the algorithm see the same channel (common random
numbers).  Nothing in fedwave touches global random state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads.base import SEED_PURPOSE as _WORKLOAD_PURPOSE

__all__ = ["PURPOSES", "SeedTree", "branch", "client_generators", "generator", "RoundNormals", "RoundUniforms"]

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
    # Who takes part (sim.core.selection, sim.core.availability).
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
    """``[generator(seed, purpose, i) for i in range(num_clients)]``, seeded all at once.

    The same streams: numpy's SeedSequence hashing of (seed, purpose, i) is
    done over an array of clients (:func:`_pcg64_states`), so a population of
    100,000 costs milliseconds, not seconds, to seed.
    """
    states = _pcg64_states(seed, PURPOSES[purpose], num_clients)
    # PCG64 takes any ISeedSequence; numpy's stubs name only SeedSequence.
    return [np.random.Generator(np.random.PCG64(_Words(w))) for w in states]  # type: ignore[arg-type]


# numpy.random.SeedSequence's constants (O'Neill's seed_seq_fe): a pool of 4 words.
_POOL = 4
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_MASK = 0xFFFFFFFF


def _words(n: int) -> list[int]:
    """A non-negative int as little-endian 32-bit words, as SeedSequence reads it (0 -> [0])."""
    if n < 0:
        raise ValueError(f"seed must be >= 0, got {n}")
    out = []
    while True:
        out.append(n & _MASK)
        n >>= 32
        if not n:
            return out


def _pcg64_states(seed: int, purpose: int, num_clients: int) -> np.ndarray:
    """[num_clients, 4] uint64: ``SeedSequence(seed, spawn_key=(purpose, i)).generate_state(4, uint64)``."""
    run = _words(seed)
    run += [0] * (_POOL - len(run))  # a spawn key follows: the run entropy is padded to the pool
    n = num_clients
    entropy = np.empty((n, len(run) + 2), dtype=np.uint32)
    entropy[:, : len(run)] = run
    entropy[:, len(run)] = _words(purpose)[0]
    entropy[:, len(run) + 1] = np.arange(n, dtype=np.uint64).astype(np.uint32)
    if n and n - 1 > _MASK:
        raise ValueError(f"num_clients must be below 2^32, got {n}")
    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_A) & _MASK
        value = value * np.uint32(hash_const)
        return value ^ (value >> np.uint32(16))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r: np.ndarray = (_MIX_L * x - _MIX_R * y).astype(np.uint32)
        return r ^ (r >> np.uint32(16))

    with np.errstate(over="ignore"):
        mixer = [hashmix(entropy[:, i]) for i in range(_POOL)]
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    mixer[dst] = mix(mixer[dst], hashmix(mixer[src]))
        for src in range(_POOL, entropy.shape[1]):
            for dst in range(_POOL):
                mixer[dst] = mix(mixer[dst], hashmix(entropy[:, src]))
        out = np.empty((n, 8), dtype=np.uint32)
        hb = _INIT_B
        for i in range(8):
            v = mixer[i % _POOL] ^ np.uint32(hb)
            hb = (hb * _MULT_B) & _MASK
            v = v * np.uint32(hb)
            out[:, i] = v ^ (v >> np.uint32(16))
    return out.astype("<u4").view("<u8").astype(np.uint64)


class SeedTree:
    """A run's seed tree as the radio asks for it (:class:`channels.Streams`): per purpose, one generator per client."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def clients(self, purpose: str, num_clients: int) -> list[np.random.Generator]:
        return client_generators(self.seed, purpose, num_clients)


class _Words(np.random.bit_generator.ISeedSequence):
    """A seed sequence whose state words are already known (what PCG64 asks of it)."""

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("only PCG64's 4 uint64 words are known")
        return self.words


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
            self._block = np.stack([self._fill(g) for g in self.gens])
        return self._block[:, index - self._start, :]

    def _fill(self, g: np.random.Generator) -> np.ndarray:
        return g.standard_normal((self.chunk, self.width))


class RoundUniforms(RoundNormals):
    """Uniforms on [0, 1) [num_clients, width] for draw 0, 1, 2, ... in order (see :class:`RoundNormals`)."""

    def _fill(self, g: np.random.Generator) -> np.ndarray:
        return g.random((self.chunk, self.width))

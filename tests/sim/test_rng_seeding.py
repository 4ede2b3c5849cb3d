"""Seeding a population at once gives numpy's SeedSequence streams exactly."""

import copy
import pickle

import numpy as np
import pytest

from sim.core.rng import PURPOSES, client_generators


@pytest.mark.parametrize("seed", [0, 1, 7, 2**32 + 5, 2**70 + 3])
def test_same_streams_as_seed_sequence(seed):
    for purpose in ("placement", "fading", "availability"):
        gens = client_generators(seed, purpose, 70)
        for i in (0, 1, 33, 69):
            ref = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PURPOSES[purpose], i)))
            np.testing.assert_array_equal(gens[i].random(6), ref.random(6))
            np.testing.assert_array_equal(gens[i].standard_normal(3), ref.standard_normal(3))


def test_generators_copy_and_pickle_with_their_state():
    g = client_generators(3, "fading", 2)[1]
    g.random(4)
    for twin in (copy.deepcopy(g), pickle.loads(pickle.dumps(g))):
        np.testing.assert_array_equal(twin.random(5), copy.deepcopy(g).random(5))

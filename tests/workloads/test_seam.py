"""The Algorithm base class, its documented defaults, and the seed each algorithm is handed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

import workloads
import workloads.base
from sim.core.rng import PURPOSES, branch
from workloads.base import Algorithm, Budget, Payload


class Plain(Algorithm):
    def __init__(self, cfg=None, num_clients: int = 2, seed=None) -> None:
        self.seed, self.broadcasts = seed, 0

    def broadcast(self, round_index: int) -> Payload:
        self.broadcasts += 1
        return Payload(100 + round_index)

    def work_flop(self, client: int, round_index: int) -> float:
        return 1.0

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        return None

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        pass

    def evaluate(self, round_index: int) -> dict[str, float]:
        return {}


class PerClient(Plain):
    def downlink(self, client: int, round_index: int) -> Payload:
        return Payload(client)

    def downloaded(self, client: int, round_index: int) -> None:
        pass


def test_the_optional_methods_default_to_the_broadcast_and_to_nothing():
    alg = Plain()
    assert alg.downlink(1, 3) == Payload(103)  # the broadcast itself
    assert alg.downloaded(1, 3) is None and alg.pull(1, 3) is None
    assert alg.client_storage_bytes(0) is None
    assert not Plain.per_client_downlink and not Plain.tracks_downloads
    assert PerClient.per_client_downlink and PerClient.tracks_downloads


def test_the_required_methods_say_which_is_missing():
    class Half(Algorithm):
        pass

    with pytest.raises(NotImplementedError, match="Half.local_update"):
        Half().local_update(0, 0, Budget(1, 1.0, 0.0, 1.0))


def test_the_built_in_algorithms_subclass_the_base():
    from workloads.network_only import NetworkOnly

    assert issubclass(NetworkOnly, Algorithm) and not NetworkOnly.per_client_downlink
    import workloads.fedavg_lora
    import workloads.fedsoda

    assert workloads.fedavg_lora.FedAvgLora.per_client_downlink and not workloads.fedavg_lora.FedAvgLora.tracks_downloads
    assert workloads.fedsoda.FedSODA.per_client_downlink and workloads.fedsoda.FedSODA.tracks_downloads


def test_a_factory_that_builds_no_algorithm_is_refused(monkeypatch):
    monkeypatch.setitem(workloads.base._REGISTRY, "duck", lambda cfg, n, seed: object())
    with pytest.raises(TypeError, match="algorithm 'duck' built a object, which does not subclass workloads.Algorithm"):
        workloads.create("duck", None, 2, 0)


def test_the_engine_refuses_what_is_not_an_algorithm():
    from sim.core.engine import Engine
    from sim.config.scenario import Scenario

    with pytest.raises(TypeError, match="does not subclass workloads.Algorithm"):
        Engine(Scenario(), object())  # type: ignore[arg-type]


def test_each_algorithm_gets_the_workload_branch_of_the_runs_seed_tree(monkeypatch):
    monkeypatch.setitem(workloads.base._REGISTRY, "plain", Plain)
    from_root = workloads.create("plain", None, 2, 11).seed
    tree = branch(11, "workload")
    tree.spawn(2)  # a branch already spawned from: the algorithm still gets it from its start
    from_branch = workloads.create("plain", None, 2, tree).seed

    assert PURPOSES["workload"] == workloads.base.SEED_PURPOSE == 8
    for ss in (from_root, from_branch):
        assert (ss.entropy, ss.spawn_key, ss.n_children_spawned) == (11, (8,), 0)
    # Its children are the tree's nodes (11; 8, i): the same data, init and client streams for every algorithm.
    child = from_root.spawn(3)[1]
    assert child.spawn_key == (8, 1)
    np.testing.assert_array_equal(child.generate_state(4), np.random.SeedSequence(11, spawn_key=(8, 1)).generate_state(4))

"""The owners' tables are the only lists of names: the scenario accepts exactly what they hold."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pytest

import workloads
import workloads.base
from channels.fading import DOPPLER_MODELS, FADING_MODELS
from channels.shadowing import MAX_CORRELATED_CLIENTS
from sim.core.engine import Engine
from sim.core.medium import SHARING, make_medium
from sim.core.outcome import OUTCOMES, Outcome
from sim.config.scenario import Scenario, ScenarioError, load_scenario
from sim.core.selection import POLICIES
from workloads.base import Algorithm, Budget, Payload

# (dotted key, the owner's names) for every choice the schema takes from an owner.
OWNED = [
    ("workload.algorithm", workloads.available),
    ("medium.uplink_sharing", lambda: SHARING),
    ("medium.downlink_sharing", lambda: SHARING),
    ("channel.fading.model", lambda: FADING_MODELS),
    ("channel.fading.doppler_model", lambda: DOPPLER_MODELS),
    ("clients.selection", lambda: POLICIES),
]


# These cut one server LLM: their configs refuse the default two families (and fedsoda the default 2 layers).
ONE_SERVER_LLM = {"fedsoda": {"families": ["llama"], "layers": 4}, "fedbiot": {"families": ["llama"]}}


def nested(dotted: str, value: object) -> dict:
    out: dict = {}
    node = out
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return out


def json_property(dotted: str) -> dict:
    schema = Scenario.model_json_schema()
    node = schema
    for part in dotted.split("."):
        prop = node["properties"][part]
        ref = prop.get("$ref") or next((a["$ref"] for a in prop.get("allOf", []) if "$ref" in a), None)
        node = schema["$defs"][ref.split("/")[-1]] if ref else prop
    return node


@pytest.mark.parametrize("dotted, names", OWNED, ids=[d for d, _ in OWNED])
def test_the_schema_accepts_exactly_the_owners_names(dotted, names, tmp_path):
    known = list(names())
    assert len(known) >= 2
    for name in known:
        data = nested(dotted, name)
        if name in ONE_SERVER_LLM:
            data["workload"].update(ONE_SERVER_LLM[name])
        Scenario.model_validate(data)  # every owned name is accepted
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(nested(dotted, "no_such_name")))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}:1: {dotted}: 'no_such_name' is not one of {', '.join(known)}"
    # Editors complete from the JSON Schema: the same names.
    assert json_property(dotted)["enum"] == known


def test_the_built_in_algorithms_and_the_sharing_policies_are_what_the_code_builds():
    assert workloads.available() == [
        "adaptive_topk", "centralised", "fd_full", "fd_topk_zeropad", "fedavg_lora", "fedbiot", "fedsoda", "flexlora",
        "local_only", "none",
    ]
    import simpy

    from channels.rate import ShannonRate

    for name in SHARING:  # each name builds its own policy
        assert make_medium(simpy.Environment(), 1e6, name, ShannonRate(), True).sharing == name
    assert MAX_CORRELATED_CLIENTS == 5000


def test_a_near_miss_gets_a_suggestion(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("workload:\n  algorithm: fedsodaa\n")
    with pytest.raises(ScenarioError, match=r"s.yaml:2: workload.algorithm: 'fedsodaa' is not one of .* \(did you mean 'fedsoda'\?\)$"):
        load_scenario(path)
    path.write_text("workload:\n  algorithm: 3\n")  # not text at all: no suggestion, still one line
    with pytest.raises(ScenarioError, match=r"s.yaml:2: workload.algorithm: 3 is not one of adaptive_topk, "):
        load_scenario(path)


def test_correlated_shadowing_is_refused_past_the_shadowing_modules_bound(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"clients: {{count: {MAX_CORRELATED_CLIENTS + 1}}}\nchannel: {{shadowing: true, shadowing_correlation_m: 10}}\n")
    with pytest.raises(ScenarioError, match=f"correlated shadowing supports up to {MAX_CORRELATED_CLIENTS} clients"):
        load_scenario(path)


class Echo(Algorithm):
    """A plugin: every client uploads as many bits as it downloaded, one byte more each round."""

    def __init__(self, cfg, num_clients: int, seed: np.random.SeedSequence) -> None:
        self.seed, self.failures = seed, []

    def broadcast(self, round_index: int) -> Payload:
        return Payload(8 * (1000 + round_index))

    def work_flop(self, client: int, round_index: int) -> float:
        return 0.0

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        return Payload(8 * (1000 + round_index))

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        self.failures.append(dict(failures))

    def evaluate(self, round_index: int) -> dict[str, float]:
        return {"eval_rounds": float(round_index + 1)}


def test_an_algorithm_registered_before_loading_is_selectable_and_runs(tmp_path, monkeypatch):
    monkeypatch.setitem(workloads.base._REGISTRY, "echo", Echo)
    path = tmp_path / "s.yaml"
    path.write_text("seed: 4\nrounds: 2\nclients: {count: 3}\nchannel: {snr_db: 20, fading: {model: none}}\n"
                    "workload: {algorithm: echo}\n")

    scn = load_scenario(path)
    alg = workloads.create(scn.workload.algorithm, scn.workload, scn.clients.count, scn.seed)
    result = Engine(scn, alg).run()

    assert scn.workload.algorithm == "echo" and "echo" in workloads.available()
    assert [r["downlink_bytes"] for r in result.rounds] == [3 * 1000, 3 * 1001]
    assert [r["uplink_bytes"] for r in result.rounds] == [3 * 1000, 3 * 1001]
    assert [r["eval_rounds"] for r in result.rounds] == [1.0, 2.0] and alg.failures == [{}, {}]
    assert "echo" in json_property("workload.algorithm")["enum"]


def test_outcome_codes_and_their_record_text():
    assert OUTCOMES == ("delivered", "deadline", "arq_failure", "downlink_failure", "skipped", "offline", "stale")
    assert [int(o) for o in Outcome] == list(range(7))
    assert Outcome.ARQ_FAILURE.label == "arq_failure" and OUTCOMES[Outcome.STALE] == "stale"

"""Each algorithm's config class owns its workload keys; the scenario composes them by workload.algorithm."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pytest
from pydantic import Field, model_validator

import workloads
import workloads.base
from sim.core.engine import Engine
from sim.config.scenario import ScenarioError, load_scenario
from sim.config.schema import Scenario, leaf_fields, workload_configs
from sim.core.selection import async_algorithms
from workloads.base import Algorithm, Budget, Payload
from workloads.config import LMConfig, WorkloadConfig, problem

ROOT = __import__("pathlib").Path(__file__).parents[2]


def write(tmp_path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def error_of(path, overrides=None) -> str:
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, overrides)
    return str(err.value)


# --- what each algorithm takes ---------------------------------------------------------------


def test_a_key_of_another_algorithm_is_refused_naming_both(tmp_path):
    path = write(tmp_path, "workload:\n  algorithm: fd_full\n  oda_steps: 3\n")

    assert error_of(path) == f"{path}:3: workload.oda_steps: unknown key for algorithm fd_full (a key of fedsoda)"


def test_a_key_two_algorithms_take_names_both_owners(tmp_path):
    path = write(tmp_path, "workload:\n  algorithm: flexlora\n  adapter_layers: 2\n")

    assert error_of(path) == f"{path}:3: workload.adapter_layers: unknown key for algorithm flexlora (a key of fedbiot, fedsoda)"


def test_a_misspelt_key_gets_a_suggestion_from_the_algorithms_own_keys(tmp_path):
    path = write(tmp_path, "workload:\n  algorithm: adaptive_topk\n  etaa: 0.5\n")
    assert error_of(path) == f"{path}:3: workload.etaa: unknown key for algorithm adaptive_topk (did you mean 'eta'?)"

    path = write(tmp_path, "workload:\n  payload_bitz: 8\n")  # algorithm left out: none
    assert error_of(path) == f"{path}:2: workload.payload_bitz: unknown key for algorithm none (did you mean 'payload_bits'?)"


def test_network_only_takes_no_language_model_key(tmp_path):
    path = write(tmp_path, "workload:\n  algorithm: none\n  lr: 0.1\n")

    assert error_of(path).startswith(f"{path}:3: workload.lr: unknown key for algorithm none (a key of adaptive_topk, ")


def test_a_value_error_inside_an_algorithms_keys_keeps_its_line(tmp_path):
    path = write(tmp_path, "workload:\n  algorithm: fedbiot\n  families: [llama]\n  biot_prox: -1\n")

    assert error_of(path) == f"{path}:4: workload.biot_prox: input should be greater than or equal to 0 (got -1)"


@pytest.mark.parametrize("body, line, key, message", [
    ("  algorithm: fedsoda\n  families: [llama]\n  sgp_emulator_layers: 3\n", 4, "sgp_emulator_layers",
     "fedsoda needs 5 layers (2 x adapter_layers=1 + sgp_emulator_layers=3) but the model has 2"),
    ("  algorithm: fedsoda\n  families: [llama, qwen2]\n", 3, "families",
     "fedsoda prunes one server LLM: name one family (got ['llama', 'qwen2'])"),
    ("  algorithm: fedbiot\n  families: [llama]\n  biot_emulator_layers: 2\n", 4, "biot_emulator_layers",
     "fedbiot needs 3 layers (1 x adapter_layers=1 + biot_emulator_layers=2) but the model has 2"),
    ("  algorithm: flexlora\n  lora_rank: 4\n  flex_ranks: [2, 8]\n", 4, "flex_ranks[1]",
     "8 is larger than lora_rank=4, the LoRA every client is built with"),
    ("  algorithm: adaptive_topk\n  vocab_size: 64\n  k_min: 65\n", 4, "k_min",
     "65 is larger than the tiny model's vocabulary of 64"),
    ("  algorithm: fd_full\n  hidden_size: 30\n", 1, "heads", "must divide hidden_size=30 (got 4)"),  # heads: not in the file
])
def test_a_configs_cross_check_blames_its_key_at_its_line(tmp_path, body, line, key, message):
    path = write(tmp_path, "workload:\n" + body)

    assert error_of(path) == f"{path}:{line}: workload.{key}: {message}"


def test_the_scenario_holds_the_algorithms_own_config_class():
    for name, data in [("fedsoda", {"families": ["llama"], "layers": 4}), ("flexlora", {}), ("none", {})]:
        scn = Scenario.model_validate({"workload": {"algorithm": name, **data}})
        assert type(scn.workload) is workloads.base.config_class(name)
    assert type(Scenario.model_validate({}).workload).__name__ == "NetworkOnlyConfig"  # the default


def test_the_resolved_scenario_lists_only_the_chosen_algorithms_keys(tmp_path):
    from sim.config.scenario import scenario_to_yaml

    scn = load_scenario(write(tmp_path, "workload: {algorithm: fd_full}\n"))
    text = scenario_to_yaml(scn)

    assert "  lr: 0.005\n" in text and "  temperature: 2.0\n" in text
    assert "sgp_" not in text and "biot_" not in text and "eta:" not in text and "payload_bits" not in text


# --- one file, several algorithms -----------------------------------------------------------


def test_overriding_the_algorithm_leaves_out_the_files_own_algorithm_keys(tmp_path):
    path = write(tmp_path, "workload:\n  algorithm: fedsoda\n  families: [llama]\n  layers: 4\n  sgp_select: count\n"
                 "  oda_steps: 3\n  lr: 0.01\n")

    scn = load_scenario(path, ["workload.algorithm=fedavg_lora"])

    assert scn.workload.algorithm == "fedavg_lora" and scn.workload.lr == 0.01 and scn.workload.layers == 4
    assert "oda_steps" not in type(scn.workload).model_fields
    # A key the overrides set is kept, and checked against the new algorithm.
    assert error_of(path, ["workload.algorithm=fedavg_lora", "workload.oda_steps=1"]) == (
        f"{path}: --set workload.oda_steps: unknown key for algorithm fedavg_lora (a key of fedsoda)"
    )


def test_a_sweep_over_the_algorithm_runs_each_with_its_own_keys(tmp_path):
    from sim.sweep.runner import plan

    path = write(tmp_path, "clients: {count: 2}\nworkload:\n  algorithm: adaptive_topk\n  eta: 0.5\n"
                 "sweep:\n  grid: {workload.algorithm: [adaptive_topk, fd_full, local_only]}\n")

    points = plan(load_scenario(path))

    assert [p.params["workload.algorithm"] for p in points] == ["adaptive_topk", "fd_full", "local_only"]
    assert "eta: 0.5" in points[0].scenario_yaml and "eta" not in points[1].scenario_yaml


def test_every_shipped_scenario_validates_and_the_comparison_files_serve_their_algorithms():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        load_scenario(path)
    for name in ("fedavg_lora", "fd_full", "fd_topk_zeropad", "local_only", "centralised"):
        load_scenario(ROOT / "scenarios" / "compare_smollm2.yaml", [f"workload.algorithm={name}"])
        load_scenario(ROOT / "scenarios" / "fedsoda_bbc.yaml", [f"workload.algorithm={name}"])


# --- the registry is the only list --------------------------------------------------------


def test_schema_and_registries_agree():
    configs = workload_configs()

    assert list(configs) == workloads.available()
    for name, cls in configs.items():
        assert issubclass(cls, WorkloadConfig) and workloads.base.config_class(name) is cls
    keys = {n for n, _, _ in leaf_fields() if n.startswith("workload.")}
    assert keys == {f"workload.{k}" for cls in configs.values() for k in cls.model_fields}
    assert async_algorithms() == ["none", "fedavg_lora"]


def test_each_built_in_registers_the_config_class_the_lazy_table_names():
    import importlib

    for name, lazy in workloads.base._LAZY.items():
        declared = workloads.base.config_class(name)
        importlib.import_module(lazy.module)
        assert workloads.base._CONFIGS[name] is declared, name


def test_the_config_modules_do_not_load_torch():
    code = ("import sys, sim.config.schema; from sim.config.schema import workload_configs; workload_configs(); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# --- a plugin with its own keys --------------------------------------------------------------


class EchoConfig(WorkloadConfig):
    """A plugin's keys: the bytes each client sends, and how they grow."""

    echo_bytes: int = Field(1000, ge=1, description="bytes each client sends in round 0")
    echo_growth: Literal["none", "linear"] = Field("linear", description="linear: one byte more each round")
    echo_cap_bytes: int = Field(10**6, ge=1, description="most bytes a client sends")

    @model_validator(mode="after")
    def _cap_holds_the_start(self) -> EchoConfig:
        if self.echo_cap_bytes < self.echo_bytes:
            raise problem("echo_cap_bytes", f"must be at least echo_bytes={self.echo_bytes} (got {self.echo_cap_bytes})")
        return self


class Echo(Algorithm):
    def __init__(self, cfg: EchoConfig, num_clients: int, seed: np.random.SeedSequence) -> None:
        assert isinstance(cfg, EchoConfig)
        self.cfg = cfg

    def _bytes(self, round_index: int) -> int:
        step = round_index if self.cfg.echo_growth == "linear" else 0
        return min(self.cfg.echo_bytes + step, self.cfg.echo_cap_bytes)

    def broadcast(self, round_index: int) -> Payload:
        return Payload(8 * self._bytes(round_index))

    def work_flop(self, client: int, round_index: int) -> float:
        return 0.0

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        return Payload(8 * self._bytes(round_index))

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        pass

    def evaluate(self, round_index: int) -> dict[str, float]:
        return {}


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setattr(workloads.base, "_REGISTRY", dict(workloads.base._REGISTRY))
    monkeypatch.setattr(workloads.base, "_CONFIGS", dict(workloads.base._CONFIGS))
    monkeypatch.setattr(workloads.base, "_SUMMARIES", dict(workloads.base._SUMMARIES))
    workloads.register("echo", config=EchoConfig, summary="echoes fixed-size payloads")(Echo)
    yield
    # The fixture's registry goes away with it: the next validation sees the built-ins alone again.


def test_a_plugin_registered_with_its_config_before_loading_is_selectable_and_runs(tmp_path, echo):
    path = write(tmp_path, "rounds: 2\nclients: {count: 3}\nchannel: {snr_db: 20, fading: {model: none}}\n"
                 "workload: {algorithm: echo, echo_bytes: 500}\n")

    scn = load_scenario(path)
    alg = workloads.create(scn.workload.algorithm, scn.workload, scn.clients.count, scn.seed)
    result = Engine(scn, alg).run()

    assert isinstance(scn.workload, EchoConfig) and scn.workload.echo_bytes == 500
    assert [r["uplink_bytes"] for r in result.rounds] == [3 * 500, 3 * 501]
    assert "workload.echo_growth" in {n for n, _, _ in leaf_fields()}
    from sim.cli import _schema_markdown

    assert "| `workload.echo_cap_bytes` | `1000000` | most bytes a client sends |" in _schema_markdown()
    assert "echo = echoes fixed-size payloads" in _schema_markdown()


def test_a_plugins_keys_are_checked_like_the_built_ins(tmp_path, echo):
    path = write(tmp_path, "workload:\n  algorithm: echo\n  echo_byts: 5\n")
    assert error_of(path) == f"{path}:3: workload.echo_byts: unknown key for algorithm echo (did you mean 'echo_bytes'?)"

    path = write(tmp_path, "workload:\n  algorithm: echo\n  echo_bytes: 50\n  echo_cap_bytes: 10\n")
    assert error_of(path) == f"{path}:4: workload.echo_cap_bytes: must be at least echo_bytes=50 (got 10)"

    path = write(tmp_path, "workload:\n  algorithm: echo\n  echo_growth: cubic\n")
    assert error_of(path) == f"{path}:3: workload.echo_growth: 'cubic' is not one of none, linear"

    path = write(tmp_path, "workload:\n  algorithm: fd_full\n  echo_bytes: 5\n")
    assert error_of(path) == f"{path}:3: workload.echo_bytes: unknown key for algorithm fd_full (a key of echo)"


def test_a_plugin_registered_without_a_config_takes_the_common_keys_only(tmp_path, echo):
    workloads.register("bare")(Echo)
    path = write(tmp_path, "workload:\n  algorithm: bare\n  eval_every: 2\n  lr: 0.1\n")

    assert error_of(path).startswith(f"{path}:4: workload.lr: unknown key for algorithm bare (a key of ")
    assert type(load_scenario(write(tmp_path, "workload: {algorithm: bare, eval_every: 2}\n")).workload) is WorkloadConfig


def test_registering_a_config_that_is_not_a_workload_config_is_refused():
    with pytest.raises(TypeError, match="config must subclass workloads.config.WorkloadConfig"):
        workloads.register("wrong", config=dict)  # type: ignore[arg-type]
    assert issubclass(LMConfig, WorkloadConfig)

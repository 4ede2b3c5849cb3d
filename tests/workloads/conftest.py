"""Tiny language-model workloads: one small configuration, its bases pretrained (and warmed) once per session."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # prove that nothing is fetched from a hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"

TINY_WORKLOAD: dict[str, Any] = {
    "families": ["llama", "qwen2", "gpt2"],
    "hidden_size": 32,
    "layers": 2,
    "heads": 2,
    "vocab_size": 512,
    "text_tokens": 24,
    "base_steps": 200,  # a short causal-LM pretraining, built once per test run in the session's cache
    "warmup_steps": 30,
    "local_steps": 6,
    "lr": 0.01,
    "public_size": 16,
    "distill_positions": 2,
    "test_size": 100,
    "private_max": 100,
    "dirichlet_alpha": 100.0,
    "device": "cpu",
}


def tiny_scenario(algorithm: str, rounds: int = 2, **workload: Any) -> dict[str, Any]:
    """Four clients at fixed, increasing distances without fading: SNR falls with the client index.

    The tiny-model keys go to the algorithms whose config takes them (not to ``none``).
    """
    from workloads.base import config_class

    takes = config_class(algorithm).model_fields
    return {
        "seed": 3,
        "rounds": rounds,
        "clients": {"count": 4, "placement": {"kind": "fixed", "distances_m": [20.0, 60.0, 150.0, 400.0]}},
        "cell": {"bandwidth_mhz": 0.02, "downlink_bandwidth_mhz": 1.0},
        "channel": {"pathloss": {"model": "log_distance", "los": "nlos"}, "fading": {"model": "none"}},
        "round": {"deadline_s": 2.0},
        "workload": {"algorithm": algorithm, **{k: v for k, v in TINY_WORKLOAD.items() if k in takes}, **workload},
    }


@pytest.fixture(scope="session")
def warmed() -> None:
    """Build (and warm) every tiny base once; later algorithms reuse them from the process cache."""
    import workloads
    from sim.config.scenario import Scenario

    scn = Scenario.model_validate(tiny_scenario("adaptive_topk"))
    workloads.create("adaptive_topk", scn.workload, scn.clients.count, scn.seed)

"""Heterogeneous model sizes per client (workload.client_models)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import workloads
from sim.run import run_scenario
from sim.config.scenario import Scenario, ScenarioError, load_scenario
from tests.workloads.conftest import tiny_scenario
from workloads.base import Budget
from workloads.payload import decode_arrays, unpack_parts

BIG = Budget(max_bits=10**9, rate_bps=1e9, snr_db=30.0, deadline_s=1.0)
# Cycled over the four clients: 0 and 2 get the first entry, 1 and 3 the second.
MIXED = [{"family": "llama", "hidden_size": 32, "layers": 2}, {"family": "llama", "hidden_size": 48, "layers": 3, "heads": 4}]


def make(algorithm: str, **workload):
    scn = Scenario.model_validate(tiny_scenario(algorithm, client_models=MIXED, warmup_steps=5, **workload))
    return workloads.create(algorithm, scn.workload, scn.clients.count, scn.seed)


# Parameters by hand (Llama, vocab 512, untied head, no biases, MLP 2h wide), LoRA r = 8 on q_proj, v_proj, lm_head:
# h 32, 2 layers, 2 heads: 2 x 512 x 32 + 2 x (4 x 32^2 + 3 x 32 x 64 + 2 x 32) + 32 = 53,408,
#   LoRA 2 x 2 x (8 x 32 + 32 x 8) + (8 x 32 + 512 x 8) = 6,400: 59,808;
# h 48, 3 layers, 4 heads: 2 x 512 x 48 + 3 x (4 x 48^2 + 3 x 48 x 96 + 2 x 48) + 48 = 118,608,
#   LoRA 3 x 2 x (8 x 48 + 48 x 8) + (8 x 48 + 512 x 8) = 9,088: 127,696.
PARAMS = {0: 59_808, 1: 127_696}
# A private sequence is 24 article tokens, the separator and the label (26); a public one lacks the label (25).
TRAIN_TOKENS = 6 * 16 * 26  # local_steps x batch_size x sequence length
PUBLIC_TOKENS = 16 * 25  # public_size x public sequence length


def test_clients_really_have_their_stated_sizes_and_flops_follow_them():
    alg = make("fedavg_lora")
    for c in alg.clients:
        cfg = c.model.get_base_model().config
        want = MIXED[c.index % 2]
        assert (cfg.hidden_size, cfg.num_hidden_layers) == (want["hidden_size"], want["layers"])
        assert cfg.num_attention_heads == want.get("heads", 2)  # unset: the workload-level heads
        assert c.params == PARAMS[c.index % 2]
    # 6 FLOP per parameter per trained token (Kaplan et al. 2020); fedavg_lora touches no public data.
    for i in range(4):
        assert alg.work_flop(i, 0) == alg.work_flop(i, 3) == 6 * PARAMS[i % 2] * TRAIN_TOKENS


def test_distillation_flops_count_the_public_passes():
    alg = make("adaptive_topk")
    for i in (0, 1):
        # Round 0: training plus one inference pass over the public set at 2 FLOP per parameter per token;
        # later rounds also distil distill_steps = 2 times over it at 6 FLOP per parameter per token.
        assert alg.work_flop(i, 0) == PARAMS[i] * (6 * TRAIN_TOKENS + 2 * PUBLIC_TOKENS)
        assert alg.work_flop(i, 1) == PARAMS[i] * (6 * (TRAIN_TOKENS + 2 * PUBLIC_TOKENS) + 2 * PUBLIC_TOKENS)
    assert alg.work_flop(0, 0) == 943_531_008  # 59,808 x (14,976 + 800)


def test_fedavg_averages_only_adapters_of_one_shape():
    alg = make("fedavg_lora")
    payloads = {i: alg.local_update(i, 0, BIG) for i in range(4)}
    alg.aggregate(0, payloads, {})
    states = {i: decode_arrays(p.content) for i, p in payloads.items()}

    # Same family, two sizes: two groups, each the weighted mean of its own two clients only.
    assert sorted(alg.global_state) == ["llama-h32-l2-a2", "llama-h48-l3-a4"]
    for key, (i, j) in (("llama-h32-l2-a2", (0, 2)), ("llama-h48-l3-a4", (1, 3))):
        ni, nj = alg.clients[i].ids.shape[0], alg.clients[j].ids.shape[0]
        for name, a in states[i].items():
            want = (ni * a + nj * states[j][name]) / (ni + nj)
            assert alg.global_state[key][name].shape == a.shape
            np.testing.assert_allclose(alg.global_state[key][name], want, atol=2e-3 * (np.abs(want).max() + 1e-3))
    assert states[0].keys() != states[1].keys()  # three layers have adapters that two do not


def test_hidden_projections_of_different_widths_agree_in_shape():
    alg = make("adaptive_topk")
    payloads = {i: alg.local_update(i, 0, BIG) for i in range(4)}
    shapes = {decode_arrays(unpack_parts(p.content)[1])["llama"].shape for p in payloads.values()}
    assert shapes == {(alg.positions, 8)}  # [P, r] whatever the width
    alg.aggregate(0, payloads, {})
    assert alg.hidden_target["llama"].shape == (alg.positions, 8)
    alg.local_update(1, 1, BIG)  # distils the 48-wide client toward the mean of all four h


def test_a_mixed_size_run_completes(tmp_path):
    run_scenario(Scenario.model_validate(tiny_scenario("adaptive_topk", client_models=MIXED, warmup_steps=5)), tmp_path)
    with open(tmp_path / "rounds.csv") as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / "clients.csv") as f:
        clients = list(csv.DictReader(f))

    assert len(rows) == 2
    sent = [c for c in clients if c["k"] != ""]
    assert {c["client"] for c in sent} >= {"0", "1"}  # both widths uploaded
    # Whatever the width, an upload is Top-k over P = 16 x 2 = 32 positions of the 512-token vocabulary
    # (9 index + 16 value bits an entry: 100 k bytes, plus a 15-byte header) and the [P, r] = [32, 8] fp16
    # hidden projection (512 bytes, plus 6 + 2 + len("llama") + 1 + 2 x 4 = 22 of header), each behind a
    # 4-byte length: 8 x (557 + 100 k) bits.
    for c in sent:
        assert int(c["payload_bits"]) == 8 * (557 + 100 * int(c["k"]))
    for r in rows:
        mine = [c for c in clients if c["round"] == r["round"]]
        assert int(r["uplink_bytes"]) == sum(int(c["payload_bits"]) for c in mine) // 8
        # The mean over 4 clients of each one's accuracy on 100 test sequences: a multiple of 1 / 400.
        assert float(r["eval_accuracy"]) * 400 == pytest.approx(round(float(r["eval_accuracy"]) * 400), abs=1e-6)


def test_client_models_are_validated_with_one_line_errors(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("workload:\n  algorithm: fd_full\n  client_models:\n    - {family: llama, hidden_size: 30, heads: 4}\n")
    with pytest.raises(ScenarioError, match=r"s.yaml:4: workload.client_models\[0\].heads: 4 heads must divide hidden_size=30$"):
        load_scenario(path)
    path.write_text("workload:\n  algorithm: fd_full\n  client_models:\n    - {family: llama, layer: 3}\n")
    with pytest.raises(ScenarioError, match=r"client_models\[0\].layer: unknown key \(did you mean 'layers'\?\)"):
        load_scenario(path)


def test_pretrained_entries_refuse_tiny_keys_and_tiny_does_not_mix_with_pretrained(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("workload:\n  algorithm: fd_full\n  client_models:\n    - {source: gemma3_270m, hidden_size: 64}\n")
    with pytest.raises(ScenarioError, match=r"client_models\[0\].hidden_size: applies to tiny models only \(source is gemma3_270m\)"):
        load_scenario(path)
    path.write_text("workload:\n  algorithm: fd_full\n  client_models:\n    - {source: smollm2}\n    - {vocab_size: 512}\n")
    with pytest.raises(ScenarioError, match=r"workload.client_models: mixes tiny and pretrained sources \['smollm2', 'tiny'\]"):
        load_scenario(path)

"""fedsoda: similarity group pruning, weight storage formats, alignment, and a run through the engine."""

from __future__ import annotations

import csv
import struct

import numpy as np
import pytest
import torch

from tests.workloads.conftest import tiny_scenario
from workloads.models import ModelSpec, build_base
from workloads.payload import encode_arrays, pack_parts
from workloads.quant import (
    NF4_CODEBOOK,
    decode_weights,
    dtype_roundtrip,
    encode_weights,
    int8_roundtrip,
    nf4_bytes,
    nf4_quantize,
    nf4_roundtrip,
)
from workloads.sgp import decoder_layers, layer_similarities, prune_layers, select_layers

IDENTITY = (2, 3, 5)  # planted identity layers of an 8-layer model
SOFT = {"families": ["llama"], "layers": 6, "adapter_layers": 1, "sgp_emulator_layers": 2, "test_size": 40}


def _planted(family: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """An 8-layer model whose layers 2, 3 and 5 pass the residual stream through unchanged."""
    model = build_base(ModelSpec(family, 128, 32, 8, 2, 32), seed=1)
    layers = decoder_layers(model)
    with torch.no_grad():
        for i in IDENTITY:
            for name, p in layers[i].named_parameters():
                # The attention and MLP output projections (c_proj in both for GPT-2) write into the residual.
                if name.rsplit(".", 2)[-2] in ("o_proj", "down_proj", "c_proj"):
                    p.zero_()
    ids = torch.randint(0, 128, (4, 16), generator=torch.Generator().manual_seed(0))
    return model, ids


# --------------------------------------------------------------------------- SGP


@pytest.mark.parametrize("measure", ["cka", "cosine"])
def test_sgp_groups_exactly_the_planted_identity_layers(measure):
    model, ids = _planted("llama")

    sim = layer_similarities(model, ids, measure)
    by_count = select_layers(sim, adapter_layers=1, keep=3)
    by_threshold = select_layers(sim, adapter_layers=1, threshold=1 - 1e-9)

    assert np.allclose(sim[list(IDENTITY)], 1.0, atol=1e-9)
    assert sim[[0, 1, 4, 6, 7]].max() < 1 - 1e-6
    for p in (by_count, by_threshold):
        assert p.kept == (0, 1, 4, 6, 7)
        assert p.groups == ((0,), (1, 2, 3), (4, 5), (6,), (7,))
        assert p.emulator == (1, 4, 6)


def test_select_layers_keeps_the_ends_and_the_least_similar_middle():
    sim = [0.1, 0.9, 0.5, 0.8, 0.5, 0.2]  # middle 1..4 with adapter_layers 1; tie 0.5 goes to the lower index

    p = select_layers(sim, adapter_layers=1, keep=1)

    assert p.kept == (0, 2, 5)
    assert p.groups == ((0, 1), (2, 3, 4), (5,))
    assert select_layers(sim, adapter_layers=1, keep=0).kept == (0, 5)
    assert select_layers(sim, adapter_layers=2, keep=0).kept == (0, 1, 4, 5)
    with pytest.raises(ValueError, match="keep must be in 0..4"):
        select_layers(sim, adapter_layers=1, keep=5)
    with pytest.raises(ValueError, match="adapter_layers"):
        select_layers(sim, adapter_layers=4, keep=0)


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt2"])
def test_pruned_model_equals_full_model_when_removed_layers_are_identities(family):
    model, ids = _planted(family)

    sub = prune_layers(model, (0, 1, 4, 6, 7))
    with torch.no_grad():
        full_logits = model(input_ids=ids).logits
        sub_logits = sub(input_ids=ids).logits
        # KV cache: the prefix, then the last token alone, must give the same last logits.
        prefix = sub(input_ids=ids[:, :-1], use_cache=True)
        step = sub(input_ids=ids[:, -1:], past_key_values=prefix.past_key_values).logits

    assert torch.allclose(full_logits, sub_logits, atol=1e-5)
    assert torch.allclose(step[:, -1], full_logits[:, -1], atol=1e-5)
    assert sub.config.num_hidden_layers == 5 and len(decoder_layers(sub)) == 5
    assert [m.layer_idx for m in sub.modules() if hasattr(m, "layer_idx") and m.layer_idx is not None] == list(range(5))
    assert model.config.num_hidden_layers == 8 and len(decoder_layers(model)) == 8  # the original is untouched
    n_layer = sum(p.numel() for p in decoder_layers(model)[0].parameters())
    assert sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in sub.parameters()) == 3 * n_layer


# --------------------------------------------------------------------------- storage formats


def test_nf4_sizes_match_hand_computation():
    # 1000 weights: 500 bytes of packed 4-bit codes and ceil(1000/64) = 16 blocks.
    assert nf4_bytes(1000, 64, double_quant=False) == 500 + 16 * 4
    # Double quantisation: 16 one-byte absmax codes, one fp32 scale per 256 of them, the fp32 mean.
    assert nf4_bytes(1000, 64, double_quant=True) == 500 + 16 + 4 + 4
    w = np.linspace(-1, 1, 1000, dtype=np.float32).reshape(10, 100)

    data = encode_weights({"w": w}, {"w"}, "nf4", "bf16", 64, False)

    header = struct.calcsize("<BBBHI")  # magic, other dtype, double quant, block, count
    per_tensor = 2 + 1 + 1 + 1 + 2 * 4  # name length, name "w", format, ndim, shape
    assert len(data) == header + per_tensor + 564
    raw = encode_weights({"w": w}, set(), "nf4", "bf16", 64, False)
    assert len(raw) == header + per_tensor + 2 * 1000  # not in the quantised set: bf16
    assert len(encode_weights({"w": w}, {"w"}, "int8", "bf16")) == header + per_tensor + 1000 + 4 * 10


def test_nf4_roundtrip_error_is_within_half_a_codebook_step():
    w = np.random.default_rng(0).standard_normal((37, 70)).astype(np.float32)  # 2590 weights, a ragged last block

    codes, absmax = nf4_quantize(w, 64)
    back = nf4_roundtrip(w, 64)

    flat, scale = w.ravel(), np.repeat(absmax, 64)[: w.size]
    code_values = NF4_CODEBOOK[codes]
    lower = NF4_CODEBOOK[np.maximum(codes.astype(int) - 1, 0)]
    upper = NF4_CODEBOOK[np.minimum(codes.astype(int) + 1, 15)]
    # Nearest codebook value: the scaled weight lies within half the gap to each neighbour.
    x = flat / scale
    assert np.all(x >= (code_values + lower) / 2 - 1e-6) and np.all(x <= (code_values + upper) / 2 + 1e-6)
    half_step = np.max(np.diff(NF4_CODEBOOK)) / 2
    assert np.all(np.abs(back.ravel() - flat) <= half_step * scale + 1e-6)
    assert np.all(np.abs(back.ravel()) <= scale + 1e-6)
    assert np.array_equal(decode_weights(encode_weights({"w": w}, {"w"}, "nf4", block=64, double_quant=True))["w"], nf4_roundtrip(w, 64, True))
    assert np.array_equal(decode_weights(encode_weights({"w": w}, {"w"}, "nf4", block=64, double_quant=False))["w"], back)


def test_int8_and_16_bit_roundtrips():
    w = np.random.default_rng(1).standard_normal((5, 40)).astype(np.float32)

    q = int8_roundtrip(w)
    stored = decode_weights(encode_weights({"w": w, "n": w[0]}, {"w"}, "int8", "bf16"))

    assert np.all(np.abs(q - w) <= np.abs(w).max(axis=1, keepdims=True) / 254 + 1e-6)
    assert np.array_equal(stored["w"], q)
    assert np.array_equal(stored["n"], dtype_roundtrip(w[0], "bf16"))
    assert np.all(np.abs(stored["n"] - w[0]) <= np.abs(w[0]) * 2**-8)
    assert np.array_equal(decode_weights(encode_weights({"w": w}, {"w"}, "none", "fp32"))["w"], w)


# --------------------------------------------------------------------------- the algorithm


def _build(uplink_mhz: float | None = None, **workload):
    import workloads
    from sim.config.scenario import Scenario

    raw = tiny_scenario("fedsoda", **{**SOFT, **workload})
    if uplink_mhz is not None:
        raw["cell"]["bandwidth_mhz"] = uplink_mhz
    scn = Scenario.model_validate(raw)
    return scn, workloads.create("fedsoda", scn.workload, scn.clients.count, scn.seed)


def test_oda_lowers_the_alignment_loss():
    _, fs = _build(oda_init_steps=0, oda_lr=0.01, sgp_emulator_layers=1)
    with torch.no_grad():
        before = float(fs.alignment(fs.public))

    fs._align(25)
    with torch.no_grad():
        after = float(fs.alignment(fs.public))

    assert before > 0
    assert after < 0.8 * before


def test_fedsoda_refuses_several_families_and_more_layers_than_it_has():
    from sim.config.scenario import Scenario
    import workloads

    # The config refuses both before anything is built (the scenario tests below); the algorithm
    # refuses them too, given a config that skipped validation.
    scn = Scenario.model_validate(tiny_scenario("fedsoda", **SOFT))
    unchecked = scn.workload.model_copy(update={"families": ["llama", "qwen2"]})
    with pytest.raises(ValueError, match="one family"):
        workloads.create("fedsoda", unchecked, scn.clients.count, scn.seed)
    unchecked = scn.workload.model_copy(update={"sgp_emulator_layers": 5})
    with pytest.raises(ValueError, match="6-layer model with adapter_layers=1 has 4 middle layers; sgp_emulator_layers=5"):
        workloads.create("fedsoda", unchecked, scn.clients.count, scn.seed)


def test_two_rounds_record_storage_the_one_time_download_and_skips(tmp_path):
    from sim.core.engine import Engine

    # 40 kHz: with Shannon capped at the highest NR MCS, the three near clients' adapters fit the deadline
    # and the far one's does not.
    scn, fs = _build(uplink_mhz=0.04, quantization="nf4")
    result = Engine(scn, fs).run()
    col = result.client_column

    lora = [(n, p) for n, p in fs.clients[0].model.named_parameters() if "lora_" in n]
    adapter = {n: p for n, p in lora if fs._part(n) == "adapter"}
    # Hand size of encode_arrays at fp16: 6-byte header; per array name, ndim, shape, 2 bytes a value.
    up_bytes = 6 + sum(2 + len(n) + 1 + 4 * p.ndim + 2 * p.numel() for n, p in adapter.items())
    first = len(pack_parts([fs.model_blob, encode_arrays(fs.emulator_state)]))
    later = len(pack_parts([encode_arrays(fs.adapters), encode_arrays(fs.emulator_state)]))
    rounds, outcome = col("round"), col("outcome")
    assert fs.up_bits == 8 * up_bytes
    assert set(col("payload_bits")[outcome == "delivered"].tolist()) == {8 * up_bytes}
    # Skipped exactly where the adapter could not arrive before the deadline.
    assert np.array_equal(outcome == "skipped", col("budget_bits") < 8 * up_bytes)
    assert 0 < (outcome == "skipped").sum() < outcome.size
    assert set(col("downlink_bits")[rounds == 0].tolist()) == {8 * first}
    assert set(col("downlink_bits")[rounds == 1].tolist()) == {8 * later}
    assert later < first  # the sub-LLM travels once
    storage = len(fs.model_blob) + 4 * sum(p.numel() for _, p in lora)
    assert set(col("client_storage_bytes").tolist()) == {storage}
    assert [r["downlink_bytes"] for r in result.rounds] == [4 * first, 4 * later]
    assert {"eval_accuracy", "eval_sub_accuracy", "eval_align_loss"} <= set(result.rounds[-1])


def test_without_alignment_after_release_the_emulator_lora_is_not_sent_again():
    from sim.core.engine import Engine

    scn, fs = _build(uplink_mhz=0.04, oda_steps=0)
    released = {n: a.copy() for n, a in fs.emulator_state.items()}
    result = Engine(scn, fs).run()

    later = len(pack_parts([encode_arrays(fs.adapters), encode_arrays({})]))
    assert set(result.client_column("downlink_bits")[result.client_column("round") == 1].tolist()) == {8 * later}
    assert released and all(np.array_equal(released[n], fs.emulator_state[n]) for n in released)


def test_sub_llm_storage_is_a_fraction_of_the_full_model():
    _, fs = _build(quantization="none", quant_other_dtype="fp32", sgp_emulator_layers=0, lora_targets=["q_proj"])
    _, nf4 = _build(quantization="nf4", sgp_emulator_layers=0, lora_targets=["q_proj"])

    stored = decode_weights(fs.model_blob)
    full = fs.full.get_base_model()
    # No quantisation, fp32 everywhere: every kept parameter at 4 bytes plus the per-tensor headers.
    headers = struct.calcsize("<BBBHI") + sum(2 + len(n) + 2 + 4 * a.ndim for n, a in stored.items())
    assert sum(a.size for a in stored.values()) == fs.sub_params
    assert len(fs.model_blob) == headers + 4 * fs.sub_params
    assert {n.split("layers.")[1].split(".")[0] for n in stored if "layers." in n} == {"0", "1"}
    layer = sum(p.numel() for n, p in decoder_layers(full)[0].named_parameters() if "lora_" not in n)
    assert sum(p.numel() for n, p in full.named_parameters() if "lora_" not in n) - fs.sub_params == 4 * layer
    assert len(nf4.model_blob) < 0.5 * len(fs.model_blob)


def test_same_seed_gives_byte_identical_records(tmp_path):
    from sim.run import run_scenario
    from sim.config.scenario import Scenario

    scn = Scenario.model_validate(tiny_scenario("fedsoda", **SOFT))
    run_scenario(scn, tmp_path / "a")
    run_scenario(scn, tmp_path / "b")

    for name in ("rounds.csv", "clients.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with open(tmp_path / "a" / "clients.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(int(r["client_storage_bytes"]) > 0 for r in rows)


def test_baselines_record_their_full_model_and_network_only_records_nothing(tmp_path):
    import workloads
    from sim.core.engine import Engine
    from sim.store.records import write_clients_csv
    from sim.config.scenario import Scenario

    common = {k: v for k, v in SOFT.items() if k not in ("adapter_layers", "sgp_emulator_layers")}  # fedsoda's own
    scn = Scenario.model_validate(tiny_scenario("fedavg_lora", rounds=1, **common))
    alg = workloads.create("fedavg_lora", scn.workload, scn.clients.count, scn.seed)
    model = alg.clients[0].model
    assert alg.client_storage_bytes(0) == 4 * sum(p.numel() for p in model.parameters())
    net = Scenario.model_validate(tiny_scenario("none", rounds=1))
    write_clients_csv(tmp_path / "c.csv", Engine(net, workloads.create("none", net.workload, 4, 0)).run())
    with open(tmp_path / "c.csv") as f:
        assert {r["client_storage_bytes"] for r in csv.DictReader(f)} == {""}


@pytest.mark.parametrize(
    ("workload", "message"),
    [
        ("{algorithm: fedsoda, client_models: [{layers: 3}]}", "workload.client_models: does not apply to fedsoda"),
        ("{algorithm: fedsoda, model_source: gemma3_270m}", "workload.model_source: fedsoda runs on tiny or smollm2"),
        ("{algorithm: fedsoda, families: [llama, qwen2]}", "workload.families: fedsoda prunes one server LLM"),
        (
            "{algorithm: fedsoda, families: [llama], layers: 2, adapter_layers: 1, sgp_emulator_layers: 2}",
            r"workload.sgp_emulator_layers: fedsoda needs 4 layers \(2 x adapter_layers=1 \+ sgp_emulator_layers=2\) but the model has 2",
        ),
        ("{algorithm: fedsoda, families: [llama], layers: 4, text_tokens: 8, sgp_skip_positions: 9}", "workload.sgp_skip_positions: must be at most text_tokens=8"),
    ],
)
def test_scenarios_fedsoda_cannot_run_are_refused_in_one_line(tmp_path, workload, message):
    from sim.config.scenario import ScenarioError, load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(f"workload: {workload}\n")
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_each_client_downloads_what_it_does_not_hold_yet():
    from workloads.base import Budget

    _, fs = _build()
    big = Budget(max_bits=10**9, rate_bps=1e9, snr_db=30.0, deadline_s=1.0)
    fs.broadcast(0)
    first = fs.first_down.bits
    assert [fs.downlink(i, 0).bits for i in range(4)] == [first] * 4
    for i in (0, 1):  # clients 2 and 3 lose their download in round 0
        fs.downloaded(i, 0)
    fs.aggregate(0, {0: fs.local_update(0, 0, big)}, {1: "deadline", 2: "downlink_failure", 3: "downlink_failure"})
    adapters = fs.round_down.bits
    assert 0 < adapters < first
    # Holders download the new adapters; the others the model plus the adapters.
    assert [fs.downlink(i, 1).bits for i in range(4)] == [adapters, adapters, first + adapters, first + adapters]
    fs.downloaded(0, 1)  # only client 0's download arrives in round 1, and nothing is aggregated
    fs.aggregate(1, {}, {i: "deadline" for i in range(4)})
    # Client 0 is up to date; client 1 still lacks the adapters it missed, whatever round 1 brought.
    assert [fs.downlink(i, 2).bits for i in range(4)] == [0, adapters, first + adapters, first + adapters]


def test_a_preinstalled_sub_llm_never_travels_and_trains_as_a_downloaded_one():
    from sim.core.engine import Engine
    from workloads.base import Budget

    scn, fs = _build(uplink_mhz=0.04, sub_model="preinstalled")
    result = Engine(scn, fs).run()
    col = result.client_column
    later = len(pack_parts([encode_arrays(fs.adapters), encode_arrays(fs.emulator_state)]))
    assert set(col("downlink_bits")[col("round") == 0].tolist()) == {0}
    assert set(col("downlink_bits")[col("round") == 1].tolist()) == {8 * later}
    assert result.rounds[0]["downlink_bytes"] == 0
    assert set(col("client_storage_bytes").tolist()) == {fs.storage_bytes}

    # The same seed trains the same adapters whether the sub-LLM came over the air or was there.
    big = Budget(max_bits=10**9, rate_bps=1e9, snr_db=30.0, deadline_s=1.0)
    payloads = []
    for mode in ("download", "preinstalled"):
        _, f = _build(sub_model=mode)
        f.broadcast(0)
        if mode == "download":
            f.downloaded(0, 0)
        payloads.append(f.local_update(0, 0, big).content)
    assert payloads[0] == payloads[1]


def test_fedbiot_takes_the_same_sub_model_key():
    from sim.config.scenario import Scenario

    raw = tiny_scenario("fedbiot", families=["llama"], layers=4, sub_model="preinstalled")
    assert Scenario.model_validate(raw).workload.sub_model == "preinstalled"

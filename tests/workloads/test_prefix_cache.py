"""``workload.lora_layers`` and the frozen-prefix activation cache: the cached path matches the full forward.

Tolerance: fp32 on CPU; logits and losses within 1e-5 (absolute, logits of
order 10), adapters and payload values after two rounds of training within 5e-5 + one
fp16 step (flexlora, whose upload is a truncated SVD, 5e-4); payload sizes and top-k
indices equal exactly (the cached path's sums round differently in the last fp32 bit, which can
flip an fp16 rounding).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import workloads
from sim.config.scenario import Scenario
from tests.workloads.conftest import tiny_scenario
from workloads.base import Budget
from workloads.cache import cache_items, clear_cache
from workloads.models import ModelSpec, add_lora, build_base, layer_index, lora_state
from workloads.payload import decode_arrays, decode_topk, unpack_parts
from workloads.prefix import trainable_floor

BIG = Budget(max_bits=10**9, rate_bps=1e9, snr_db=30.0, deadline_s=1.0)
# Four layers, LoRA on the top two: the three families (Llama and Qwen2 rotary, GPT-2 learned positions).
DEEP = {"layers": 4, "base_steps": 0, "warmup_steps": 0, "lora_layers": {"top": 2}}
TOL = 1e-5
FP16 = 2.0**-10
TRAINED = 5e-5  # after two rounds of training on fp16-decoded targets, the last-bit differences have grown


def make(algorithm: str, **workload):
    scn = Scenario.model_validate(tiny_scenario(algorithm, **{**DEEP, **workload}))
    return workloads.create(algorithm, scn.workload, scn.clients.count, scn.seed)


def _content(alg, payload) -> list[np.ndarray]:
    """The decoded arrays of an upload (adapters, or top-k values and indices)."""
    if type(alg).__name__ in ("FedAvgLora", "FlexLoRA"):
        return list(decode_arrays(payload.content).values())
    msg = decode_topk(unpack_parts(payload.content)[0])
    return [np.asarray(msg.indices), np.asarray(msg.values, dtype=np.float32)]


def test_lora_layers_top_puts_layer_lora_on_the_top_layers_and_keeps_the_head():
    alg = make("fd_full", prefix_cache="off")
    for c in alg.clients:
        names = [n for n, p in c.model.named_parameters() if p.requires_grad]
        layers = {layer_index(n) for n in names} - {None}

        assert layers == {2, 3}, (c.family, layers)
        assert any("lm_head" in n for n in names)


def test_explicit_lora_layers_list():
    alg = make("fedavg_lora", lora_layers=[1, 3], prefix_cache="off")
    layers = {layer_index(n) for n in lora_state(alg.clients[0].model)} - {None}

    assert layers == {1, 3}


@pytest.mark.parametrize("algorithm", ["fedavg_lora", "fd_full", "fd_topk_zeropad", "adaptive_topk", "flexlora",
                                       "local_only", "centralised"])
def test_cached_and_uncached_runs_agree(algorithm):
    cached, plain = make(algorithm), make(algorithm, prefix_cache="off")
    # flexlora sends a truncated SVD of the server's average: near-equal singular values amplify last-bit differences.
    trained = 5e-4 if algorithm == "flexlora" else TRAINED

    assert all(c.prefix is not None and c.prefix.layer == 2 for c in cached.clients)
    assert all(c.prefix is None for c in plain.clients)
    if algorithm == "centralised":
        assert cached.model.prefix is not None and cached.model.prefix.private.shape[0] == cached.model.ids.shape[0]
    for r in range(2):
        got = {i: cached.local_update(i, r, BIG) for i in range(4)}
        want = {i: plain.local_update(i, r, BIG) for i in range(4)}
        for i in range(4):
            if want[i] is None:
                assert got[i] is None
                continue
            assert got[i].bits == want[i].bits
            for a, b in zip(_content(cached, got[i]), _content(plain, want[i])):
                # Payload values are fp16: one fp16 step (2^-10 relative) is the rounding of a 1e-7 difference.
                np.testing.assert_allclose(a, b, atol=trained if a.dtype.kind == "f" else 0, rtol=FP16 if a.dtype.kind == "f" else 0)
        cached.aggregate(r, {i: p for i, p in got.items() if p is not None}, {})
        plain.aggregate(r, {i: p for i, p in want.items() if p is not None}, {})
        e_got, e_want = cached.evaluate(r), plain.evaluate(r)
        assert e_got["eval_loss"] == pytest.approx(e_want["eval_loss"], abs=TOL)
        assert e_got["eval_accuracy"] == e_want["eval_accuracy"]
    for a, b in zip(cached.clients, plain.clients):
        for n, v in lora_state(a.model).items():
            # fedavg_lora's clients hold the decoded (fp16) average: the same fp16 step applies.
            np.testing.assert_allclose(v, lora_state(b.model)[n], atol=trained, rtol=FP16)


def test_public_logits_and_hidden_projection_from_the_cache_match_the_full_forward():
    alg = make("adaptive_topk", hidden_layer=-1)
    for i, c in enumerate(alg.clients):
        with torch.no_grad():
            got = alg.public_logits(c)
            h_got = alg._hidden(i)
            prefix, c.prefix = c.prefix, None
            want = alg.public_logits(c)
            h_want = alg._hidden(i)
            c.prefix = prefix

        torch.testing.assert_close(got, want, atol=TOL, rtol=0)
        torch.testing.assert_close(torch.as_tensor(h_got), torch.as_tensor(h_want), atol=TOL, rtol=0)


@pytest.mark.parametrize("workload, why", [
    ({"lora_layers": None}, "LoRA on every layer"),
    ({"lora_layers": [0, 3]}, "LoRA on layer 0"),
    ({"lora_targets": ["q_proj", "v_proj", "embed_tokens"]}, "LoRA on the embeddings"),
])
def test_auto_turns_the_cache_off_when_something_below_trains(workload, why):
    alg = make("fd_full", **workload)

    assert all(c.prefix is None for c in alg.clients), why


def test_trainable_floor_finds_the_lowest_trained_layer():
    model = add_lora(build_base(ModelSpec("llama", 64, 16, 5, 2, 8), 0), "llama", 2, 4.0, ["q_proj"],
                     torch.Generator().manual_seed(0), layers=[3, 4])

    assert trainable_floor(model) == 3


def test_prefix_states_are_stored_once_and_read_back(monkeypatch, tmp_path):
    monkeypatch.setenv("FEDWAVE_CACHE", str(tmp_path))
    first = make("fd_full")
    entries = [i for i in cache_items(tmp_path) if i.name.startswith("prefix/")]
    mtimes = {i.name: (i.path / "hidden.npy").stat().st_mtime_ns for i in entries}
    second = make("fd_full")
    again = [i for i in cache_items(tmp_path) if i.name.startswith("prefix/")]

    # Three families, one base each: private states per client, public and test per base.
    assert len(entries) == 4 + 3 + 3 and {i.kind for i in entries} == {"prefix activations"}
    assert {i.name: (i.path / "hidden.npy").stat().st_mtime_ns for i in again} == mtimes
    for a, b in zip(first.clients, second.clients):
        torch.testing.assert_close(a.prefix.private, b.prefix.private, atol=0, rtol=0)
    assert not [p for p in (tmp_path / "prefix").iterdir() if p.name.startswith(".")]  # no temporary folder left
    assert {i.name for i in clear_cache(["prefix"], tmp_path)} == set(mtimes)  # `fedwave cache clear prefix`


def test_a_full_cache_computes_in_memory_and_says_so(monkeypatch, tmp_path, capsys):
    from workloads import prefix

    monkeypatch.setenv("FEDWAVE_CACHE", str(tmp_path))
    monkeypatch.setenv("FEDWAVE_PREFIX_CACHE_GB", "0")
    monkeypatch.setattr(prefix, "_WARNED", set())
    alg = make("fd_topk_zeropad")
    err = capsys.readouterr().err

    assert "FEDWAVE_PREFIX_CACHE_GB allows 0.00" in err and err.count("prefix cache") == 1
    assert not [i for i in cache_items(tmp_path) if i.name.startswith("prefix/")]
    assert all(c.prefix is not None for c in alg.clients)
    assert alg.local_update(0, 0, BIG).bits == make("fd_topk_zeropad", prefix_cache="off").local_update(0, 0, BIG).bits


def test_work_flop_charges_the_prefix_once_then_the_trained_layers():
    # A tiny Llama, hidden 32, 4 layers, 2 heads, vocabulary 512, MLP width 64, LoRA r=8 on q, v (top 2) and lm_head.
    layer = 4 * 32 * 32 + 3 * 32 * 64 + 2 * 32  # attention, MLP, two RMSNorms: 10,304
    lora = 2 * 2 * (8 * 32 + 32 * 8) + (8 * 32 + 512 * 8)  # q, v on two layers; lm_head: 6,400
    tail = 2 * layer + 32 + 512 * 32 + lora  # layers 2, 3, final norm, head: 43,424
    prefix = 512 * 32 + 2 * layer  # embedding, layers 0, 1: 36,992
    alg = make("fedavg_lora", families=["llama"])
    c = alg.clients[0]
    cfg = alg.cfg
    seq = c.ids.shape[1]
    train = cfg.local_steps * min(cfg.batch_size, c.ids.shape[0]) * seq

    assert (c.prefix.tail_params, c.prefix.prefix_params, c.params) == (43_424, 36_992, 80_416)
    assert tail == 43_424 and prefix == 36_992
    assert alg.work_flop(0, 0) == 6 * tail * train + 2 * prefix * c.ids.shape[0] * (seq - 1)
    assert alg.work_flop(0, 1) == 6 * tail * train  # the cache is filled: the prefix is not paid again
    assert make("fedavg_lora", families=["llama"], prefix_cache="off").work_flop(0, 0) == 6 * 80_416 * train


@pytest.mark.parametrize("workload, message", [
    ({"lora_layers": {"top": 5}}, "5 is more than the tiny model's 4 layers"),
    ({"lora_layers": [1, 4]}, "layer 4 is past the tiny model's 4 layers (0 to 3)"),
    ({"algorithm": "fedsoda", "lora_layers": {"top": 1}}, "fedsoda places its adapters with adapter_layers"),
    ({"algorithm": "adaptive_topk", "hidden_layer": 1}, "1 is layer 1 of the tiny model, which carries no LoRA"),
])
def test_lora_layers_checks(workload, message):
    from pydantic import ValidationError

    algorithm = workload.pop("algorithm", "fd_full")
    with pytest.raises(ValidationError) as err:
        Scenario.model_validate(tiny_scenario(algorithm, **{**DEEP, **workload}))

    assert message in str(err.value), str(err.value)


def test_shared_copy_shares_the_frozen_weights_and_keeps_the_original_unwrapped():
    from workloads.pretrained import shared_copy

    base = build_base(ModelSpec("llama", 64, 16, 2, 2, 8), 0)
    a = add_lora(shared_copy(base), "llama", 2, 4.0, ["q_proj"], torch.Generator().manual_seed(0))
    b = add_lora(shared_copy(base), "llama", 2, 4.0, ["q_proj"], torch.Generator().manual_seed(1))
    ptr = base.model.layers[0].self_attn.q_proj.weight.data_ptr()

    assert a.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight.data_ptr() == ptr
    assert b.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight.data_ptr() == ptr
    assert not any("lora_" in n for n, _ in base.named_parameters())


def test_a_pretrained_base_is_loaded_once_per_process(monkeypatch):
    from workloads import pretrained

    calls = []

    def load_model():
        calls.append(1)
        return build_base(ModelSpec("llama", 64, 16, 2, 2, 8), 0)

    monkeypatch.setitem(pretrained.SOURCES, "fake", ("llama", lambda: "tokenizer", load_model))
    monkeypatch.setattr(pretrained, "_SHARED", {})
    first = pretrained.shared_pretrained("fake")
    second = pretrained.shared_pretrained("fake")

    assert len(calls) == 1 and first[1] is second[1]
    assert not any(p.requires_grad for p in first[1].parameters())  # frozen: only adapters train


def test_a_lora_layer_index_out_of_range_is_one_clear_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="layer 70 must be an index from 0 to 63"):
        Scenario.model_validate(tiny_scenario("fd_full", lora_layers=[0, 70]))


def test_a_damaged_entry_is_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setenv("FEDWAVE_CACHE", str(tmp_path))
    first = make("fd_full", families=["llama"])
    entries = [i for i in cache_items(tmp_path) if i.name.startswith("prefix/")]
    for e in entries:
        # A new file renamed over the old one: truncating a file in place would break the maps still open.
        (e.path / "damaged").write_bytes(b"not an array")
        os.replace(e.path / "damaged", e.path / "hidden.npy")
    second = make("fd_full", families=["llama"])

    for a, b in zip(first.clients, second.clients):
        torch.testing.assert_close(a.prefix.private, b.prefix.private, atol=0, rtol=0)
    assert {i.name for i in cache_items(tmp_path) if i.name.startswith("prefix/")} == {e.name for e in entries}
    assert all((e.path / "hidden.npy").stat().st_size > 100 for e in entries)

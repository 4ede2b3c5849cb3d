"""fedbiot: uniform layer dropping, the proximal term, layer-wise alignment, pairing with FedLM, and engine runs."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from tests.workloads.conftest import tiny_scenario
from tests.workloads.test_fedsoda import _planted
from workloads.fedbiot import proximal_term, uniform_emulator
from workloads.offsite import InputTap, alignment_loss
from workloads.payload import decode_arrays, encode_arrays, pack_parts
from workloads.quant import decode_weights
from workloads.sgp import prune_layers

DEEP = {"families": ["llama"], "layers": 4, "test_size": 40}


def test_uniform_emulator_keeps_evenly_spread_layers_and_their_blocks():
    # 8 layers, one adapter layer on top: the emulator spans 0..6 (M = 7) and keeps floor(k 7 / 2) = 0, 3.
    kept, blocks, start = uniform_emulator(8, 1, 2, "top")
    # Adapters at both ends: the emulator spans 1..6 (M = 6) and keeps 1 + floor(k 6 / 3) = 1, 3, 5.
    kept2, blocks2, start2 = uniform_emulator(8, 1, 3, "both")

    assert (kept, blocks, start) == ((0, 3, 7), ((0, 1, 2), (3, 4, 5, 6)), 0)
    assert (kept2, blocks2, start2) == ((0, 1, 3, 5, 7), ((1, 2), (3, 4), (5, 6)), 1)
    assert uniform_emulator(4, 1, 0, "top") == ((3,), (), 0)
    with pytest.raises(ValueError, match="has 3 emulator layers to choose from; biot_emulator_layers=4"):
        uniform_emulator(4, 1, 4, "top")


def test_proximal_term_is_zero_at_the_start_and_its_gradient_is_2_lambda_delta():
    p0 = [torch.tensor([[1.0, -2.0], [0.5, 3.0]]), torch.tensor([4.0])]
    params = [t.clone().requires_grad_(True) for t in p0]

    start = proximal_term(params, p0, 0.3)
    with torch.no_grad():
        params[0] += torch.tensor([[0.1, 0.0], [0.0, -0.2]])
        params[1] += 1.0
    moved = proximal_term(params, p0, 0.3)
    moved.backward()

    assert float(start.detach()) == 0.0
    assert float(moved.detach()) == pytest.approx(0.3 * (0.01 + 0.04 + 1.0))
    assert torch.allclose(params[0].grad, 2 * 0.3 * torch.tensor([[0.1, 0.0], [0.0, -0.2]]))
    assert torch.allclose(params[1].grad, torch.tensor([2 * 0.3 * 1.0]))


def test_layerwise_alignment_is_zero_when_the_dropped_layers_are_identities():
    full, ids = _planted("llama")  # layers 2, 3 and 5 of 8 pass the residual through
    sub = prune_layers(full, (0, 1, 4, 6, 7))
    # Each emulator layer's output (input of the next sub layer) against its block's last full layer's.
    pairs = [(2, 4), (3, 6), (4, 7)]
    s_taps, t_taps = [InputTap(sub, s) for s, _ in pairs], [InputTap(full, f) for _, f in pairs]
    off = prune_layers(full, (0, 1, 2, 6, 7))  # keeps an identity, drops layer 4 which is not one
    o_taps = [InputTap(off, s) for s, _ in pairs]

    with torch.no_grad():
        same = [alignment_loss(sub, s_taps, full, t_taps, ids, 4, 2.0, 1.0, 1.0, d) for d in ("l2", "cosine")]
        other = alignment_loss(off, o_taps, full, t_taps, ids, 4, 2.0, 1.0, 0.0, "l2")

    assert all(abs(float(x)) < 1e-6 for x in same)
    assert float(other) > 1e-3


def _build(uplink_mhz: float = 0.2, **workload):
    import workloads
    from sim.config.scenario import Scenario

    raw = tiny_scenario("fedbiot", **{**DEEP, **workload})
    raw["cell"]["bandwidth_mhz"] = uplink_mhz
    scn = Scenario.model_validate(raw)
    return scn, workloads.create("fedbiot", scn.workload, scn.clients.count, scn.seed)


def test_fedbiot_sees_the_same_data_and_base_as_fedavg_lora_on_a_seed():
    import workloads
    from sim.config.scenario import Scenario

    scn, fb = _build()
    avg = workloads.create("fedavg_lora", scn.workload, scn.clients.count, scn.seed)

    base = avg.clients[0].model.get_base_model()
    full = fb.full.get_base_model()
    assert all(np.array_equal(a, b) for a, b in zip(fb.task.client_ids, avg.task.client_ids))
    assert np.array_equal(fb.task.test_ids, avg.task.test_ids)
    frozen = {n: p for n, p in base.named_parameters() if "lora_" not in n}
    assert all(torch.equal(p, frozen[n]) for n, p in full.named_parameters() if "lora_" not in n)


def test_alignment_lowers_the_layerwise_loss():
    _, fb = _build(biot_align_init_steps=0, biot_align_lr=0.01, biot_emulator_layers=2)
    with torch.no_grad():
        before = float(fb.alignment(fb.public))

    fb._align(25)
    with torch.no_grad():
        after = float(fb.alignment(fb.public))

    assert len(fb.s_taps) == 2  # one hidden state per emulator layer
    assert before > 0 and after < 0.8 * before


def test_the_proximal_term_holds_the_adapter_near_its_round_start():
    moved = []
    for lam in (0.0, 1e4):
        _, fb = _build(biot_prox=lam, lr=0.05)
        c = fb.clients[0]
        params = [p for p in c.model.parameters() if p.requires_grad]
        start = [p.detach().clone() for p in params]
        fb._local_train(c)
        moved.append(sum(float(((p.detach() - p0) ** 2).sum()) for p, p0 in zip(params, start)))

    assert moved[0] > 0
    assert moved[1] < 0.1 * moved[0]


def test_engine_run_uploads_the_adapter_and_downloads_the_emulator_once():
    from sim.core.engine import Engine

    scn, fb = _build(uplink_mhz=0.2, biot_emulator_layers=1)
    result = Engine(scn, fb).run()
    col = result.client_column

    # 4 layers, one adapter on top, one emulator layer: full layers 0 and 3 kept.
    assert tuple(fb.to_full.values()) == (0, 3) and fb.adapter_sub == {1}
    lora = [(n, p) for n, p in fb.clients[0].model.named_parameters() if "lora_" in n]
    adapter = {n: p for n, p in lora if fb._part(n) == "adapter"}
    assert adapter and all(".layers.0." not in n for n in adapter)
    up_bytes = 6 + sum(2 + len(n) + 1 + 4 * p.ndim + 2 * p.numel() for n, p in adapter.items())
    rounds, outcome = col("round"), col("outcome")
    assert (outcome == "delivered").all()
    assert set(col("payload_bits").tolist()) == {8 * up_bytes}
    first = len(pack_parts([fb.model_blob, encode_arrays(fb.emulator_state)]))
    later = len(pack_parts([encode_arrays(fb.adapters), encode_arrays(fb.emulator_state)]))
    assert set(col("downlink_bits")[rounds == 0].tolist()) == {8 * first}
    assert set(col("downlink_bits")[rounds == 1].tolist()) == {8 * later}
    # bf16 weights: 2 bytes a parameter plus the per-tensor headers; storage adds every LoRA at fp32.
    stored = decode_weights(fb.model_blob)
    headers = struct.calcsize("<BBBHI") + sum(2 + len(n) + 2 + 4 * a.ndim for n, a in stored.items())
    assert len(fb.model_blob) == headers + 2 * fb.sub_params
    assert set(col("client_storage_bytes").tolist()) == {len(fb.model_blob) + 4 * sum(p.numel() for _, p in lora)}
    assert {"eval_accuracy", "eval_sub_accuracy", "eval_align_loss"} <= set(result.rounds[-1])
    assert set(decode_arrays(encode_arrays(fb.adapters))) == set(adapter)


def test_same_seed_gives_byte_identical_records(tmp_path):
    from sim.run import run_scenario
    from sim.config.scenario import Scenario

    for alg, extra in (("fedbiot", DEEP), ("flexlora", {"families": ["llama"], "test_size": 40})):
        scn = Scenario.model_validate(tiny_scenario(alg, **extra))
        run_scenario(scn, tmp_path / f"{alg}-a", report=False)
        run_scenario(scn, tmp_path / f"{alg}-b", report=False)
        for name in ("rounds.csv", "clients.csv"):
            assert (tmp_path / f"{alg}-a" / name).read_bytes() == (tmp_path / f"{alg}-b" / name).read_bytes()


@pytest.mark.parametrize(
    ("workload", "message"),
    [
        ("{algorithm: fedbiot, client_models: [{layers: 3}]}", "workload.client_models: does not apply to fedbiot"),
        ("{algorithm: fedbiot, model_source: gemma3_270m}", "workload.model_source: fedbiot runs on tiny or smollm2"),
        ("{algorithm: fedbiot, families: [llama, qwen2]}", "workload.families: fedbiot splits one server LLM"),
        (
            "{algorithm: fedbiot, families: [llama], layers: 3, adapter_layers: 1, biot_adapter_side: both, biot_emulator_layers: 2}",
            r"workload.biot_emulator_layers: fedbiot needs 4 layers \(2 x adapter_layers=1 \+ biot_emulator_layers=2\) but the model has 3",
        ),
    ],
)
def test_scenarios_fedbiot_cannot_run_are_refused_in_one_line(tmp_path, workload, message):
    from sim.config.scenario import ScenarioError, load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(f"workload: {workload}\n")
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)

"""The distillation algorithms and fedavg_lora through the seam and through whole runs (fedsoda: test_fedsoda.py)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import workloads
from sim.run import run_scenario
from sim.config.scenario import Scenario
from tests.workloads.conftest import tiny_scenario
from workloads.base import Budget
from workloads.models import lora_state
from workloads.payload import decode_arrays, decode_topk, unpack_parts

pytestmark = pytest.mark.usefixtures("warmed")

BIG = Budget(max_bits=10**9, rate_bps=1e9, snr_db=30.0, deadline_s=1.0)


def make(algorithm: str, **workload):
    scn = Scenario.model_validate(tiny_scenario(algorithm, **workload))
    return workloads.create(algorithm, scn.workload, scn.clients.count, scn.seed)


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_adaptive_run_k_follows_snr_fits_budget_and_lowers_eval_loss(tmp_path):
    before = make("adaptive_topk").evaluate(-1)["eval_loss"]
    run_scenario(Scenario.model_validate(tiny_scenario("adaptive_topk")), tmp_path)
    rows, clients = read(tmp_path / "rounds.csv"), read(tmp_path / "clients.csv")

    assert float(rows[-1]["eval_loss"]) < before
    for r in ("0", "1"):
        sent = [c for c in clients if c["round"] == r and c["k"] != ""]
        by_snr = sorted(sent, key=lambda c: float(c["snr_db"]))
        ks = [int(c["k"]) for c in by_snr]
        assert len(ks) >= 3 and ks == sorted(ks) and ks[0] < ks[-1], ks
    for c in clients:
        if c["outcome"] == "delivered":
            assert 0 < int(c["payload_bits"]) <= int(c["budget_bits"])


def test_same_seed_gives_byte_identical_records(tmp_path):
    scn = Scenario.model_validate(tiny_scenario("adaptive_topk", rounds=1))
    run_scenario(scn, tmp_path / "a")
    run_scenario(scn, tmp_path / "b")
    for name in ("rounds.csv", "clients.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_local_update_changes_the_lora_adapters_only():
    alg = make("fd_full")
    c = alg.clients[0]
    lora0 = lora_state(c.model)
    base0 = {n: p.detach().clone() for n, p in c.model.named_parameters() if "lora_" not in n}
    payload = alg.local_update(0, 0, BIG)
    lora1 = lora_state(c.model)

    assert any(not np.array_equal(lora0[n], lora1[n]) for n in lora0)
    assert all(np.array_equal(p.detach(), base0[n]) for n, p in c.model.named_parameters() if "lora_" not in n)
    assert payload.k == alg.vocab and payload.bits == 8 * len(payload.content)


def test_fixed_topk_and_zero_padding():
    alg = make("fd_topk_zeropad", k_fixed=7)
    payloads = {i: alg.local_update(i, 0, BIG) for i in range(3)}
    alg.aggregate(0, payloads, {3: "deadline"})
    msgs = [decode_topk(unpack_parts(p.content)[0]) for p in payloads.values()]
    probs, support = alg.target

    assert {p.k for p in payloads.values()} == {7} and {m.k for m in msgs} == {7}
    # The server's target is the zero-padded mean over the 3 senders (then fp16 on the downlink).
    want = np.zeros_like(probs, dtype=np.float64)
    for m in msgs:
        want[np.arange(m.positions)[:, None], m.indices] += np.exp(m.values) / 3
    np.testing.assert_allclose(probs, want, rtol=2e-3, atol=1e-7)
    np.testing.assert_array_equal(support, want > 0)
    assert alg.down.bits == 8 * len(alg.down.content)


def test_adaptive_target_is_the_mean_over_each_entrys_senders():
    alg = make("adaptive_topk")
    budgets = [60_000, 90_000, 120_000]
    payloads = {i: alg.local_update(i, 0, Budget(b, 1e5, 5.0, 1.0)) for i, b in enumerate(budgets)}
    alg.aggregate(0, payloads, {})
    msgs = [decode_topk(unpack_parts(p.content)[0]) for p in payloads.values()]
    probs, support = alg.target

    assert len({m.k for m in msgs}) == 3  # different budgets, different k
    total = np.zeros_like(probs, dtype=np.float64)
    count = np.zeros_like(probs, dtype=np.float64)
    for m in msgs:
        rows = np.arange(m.positions)[:, None]
        total[rows, m.indices] += np.exp(m.values)
        count[rows, m.indices] += 1
    np.testing.assert_allclose(probs, np.divide(total, count, out=np.zeros_like(total), where=count > 0), rtol=2e-3, atol=1e-7)
    np.testing.assert_array_equal(support, count > 0)


def test_adaptive_skips_when_the_budget_cannot_carry_k_min():
    alg = make("adaptive_topk", k_min=4)
    assert alg.local_update(0, 0, Budget(max_bits=2_000, rate_bps=1e3, snr_db=-5.0, deadline_s=1.0)) is None
    p = alg.local_update(1, 0, Budget(max_bits=60_000, rate_bps=1e5, snr_db=5.0, deadline_s=1.0))
    assert p is not None and p.k >= 4 and p.bits <= 60_000
    logits_part, hidden_part = unpack_parts(p.content)
    (h,) = decode_arrays(hidden_part).values()
    assert h.shape == (alg.positions, 8)


def test_fedavg_lora_averages_adapters_per_family():
    alg = make("fedavg_lora")
    payloads = {i: alg.local_update(i, 0, BIG) for i in range(4)}
    alg.aggregate(0, payloads, {})
    # Clients 0 and 3 are both llama (families cycle llama, qwen2, gpt2).
    a, b = decode_arrays(payloads[0].content), decode_arrays(payloads[3].content)
    na, nb = alg.clients[0].ids.shape[0], alg.clients[3].ids.shape[0]
    for name in a:
        want = (na * a[name] + nb * b[name]) / (na + nb)
        np.testing.assert_allclose(alg.global_state["llama-h32-l2-a2"][name], want, atol=2e-3 * (np.abs(want).max() + 1e-3))
    assert sorted(alg.global_state) == ["gpt2-h32-l2-a2", "llama-h32-l2-a2", "qwen2-h32-l2-a2"]
    # Each client downloads its own family's adapter: the three parts of the broadcast, not all of it.
    parts = dict(zip(sorted(alg.global_state), unpack_parts(alg.down.content)))
    for i, c in enumerate(alg.clients):
        assert alg.downlink(i, 1).bits == 8 * len(parts[c.shape]) < alg.down.bits
    # Client 0 (llama, h 32, 2 layers, vocab 512, LoRA r 8 on q_proj, v_proj, lm_head) has 59,808 parameters
    # (tests/workloads/test_client_models.py); 6 FLOP each per trained token, 6 steps x 16 sequences x 26 tokens.
    assert alg.work_flop(0, 0) == 6 * 59_808 * 6 * 16 * 26
    # The metric is the mean over clients of the fraction of the 100 test sequences each one labels right,
    # each client holding its shape's averaged adapter (evaluate loads it).
    metrics = alg.evaluate(0)
    right = [np.mean(np.asarray(alg.evaluate_model(c.model, c)[1]) == np.asarray(alg.task.test_y)) for c in alg.clients]
    assert metrics["eval_accuracy"] == pytest.approx(np.mean(right), abs=1e-12)
    assert len(alg.task.test_y) == 100


def test_unknown_lora_target_is_refused():
    # The config refuses it before anything is built ...
    with pytest.raises(ValueError, match=r"'qproj' is not a module of a llama model"):
        make("fd_full", lora_targets=["qproj"])
    # ... and so does the model builder, for a config that skipped validation.
    scn = Scenario.model_validate(tiny_scenario("fd_full"))
    unchecked = scn.workload.model_copy(update={"lora_targets": ["qproj"]})
    with pytest.raises(ValueError, match=r"LoRA targets \['qproj'\] not found"):
        workloads.create("fd_full", unchecked, scn.clients.count, scn.seed)


def test_a_run_records_each_clients_own_download(tmp_path):
    data = tiny_scenario("fedavg_lora", families=["llama", "qwen2"])
    # The near client's LoRA upload needs more than 20 kHz at the NR spectral-efficiency cap
    # (it arrived only at an uncapped 57 dB rate); 200 kHz lets round 0 aggregate.
    data["cell"] = {**data["cell"], "bandwidth_mhz": 0.2}
    run_scenario(Scenario.model_validate(data), tmp_path)
    rounds, clients = read(tmp_path / "rounds.csv"), read(tmp_path / "clients.csv")
    # Nothing to download before the first aggregate; then one family's adapter per client.
    assert {c["downlink_bits"] for c in clients if c["round"] == "0"} == {"0"}
    later = [int(c["downlink_bits"]) for c in clients if c["round"] == "1"]
    assert all(b > 0 for b in later)
    assert int(rounds[1]["downlink_bytes"]) == sum(later) // 8


def test_bf16_precision_runs_the_forward_passes_in_bf16_and_still_learns():
    import torch

    from workloads.fedcore import pick_precision

    assert pick_precision("auto", torch.device("cpu")) is None  # fp32 unless a bf16-capable GPU
    alg16, alg32 = make("adaptive_topk", precision="bf16"), make("adaptive_topk", precision="fp32")
    with torch.no_grad():
        l16, l32 = alg16.public_logits(alg16.clients[0]), alg32.public_logits(alg32.clients[0])
    assert l16.dtype == torch.bfloat16 and l32.dtype == torch.float32
    # Same weights, same inputs: the outputs agree to bf16 rounding, and are not the fp32 ones.
    assert 0 < float((l16.float() - l32).abs().max()) < 0.1 * float(l32.abs().max())
    before = alg16.evaluate(-1)["eval_loss"]
    for r in range(2):
        payloads = {i: alg16.local_update(i, r, BIG) for i in range(4)}
        alg16.aggregate(r, payloads, {})
    assert alg16.evaluate(1)["eval_loss"] < before
    assert all(p.dtype == torch.float32 for c in alg16.clients for p in c.model.parameters())


def test_more_distilled_positions_than_a_sequence_has_means_all_of_them():
    alg = make("adaptive_topk", text_tokens=4, distill_positions=50)
    n, width = alg.public.shape
    assert alg.positions == n * width
    p = alg.local_update(0, 0, BIG)
    assert decode_topk(unpack_parts(p.content)[0]).positions == n * width

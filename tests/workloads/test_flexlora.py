"""flexlora: SVD redistribution against hand-worked matrices, rank choice, rank-r slots, and runs through the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.workloads.conftest import tiny_scenario
from workloads.base import Budget
from workloads.flexlora import choose_rank, mean_delta, truncated_factors
from workloads.payload import decode_arrays, encode_arrays

ONE = {"families": ["llama"], "test_size": 40}


def _hand_mean() -> np.ndarray:
    # Client 1: B A = 2 E00 at scaling 2 -> 4 E00, weight 3; client 2: B A = E11 at scaling 2 -> 2 E11, weight 1.
    b1, a1 = np.array([[1.0], [0.0], [0.0]]), np.array([[2.0, 0.0, 0.0, 0.0]])
    b2, a2 = np.array([[0.0], [1.0], [0.0]]), np.array([[0.0, 1.0, 0.0, 0.0]])
    return mean_delta([(b1, a1, 2.0), (b2, a2, 2.0)], [3.0, 1.0])


def test_mean_of_full_size_updates_is_the_hand_worked_matrix():
    mean = _hand_mean()

    expected = np.zeros((3, 4))
    expected[0, 0], expected[1, 1] = 3.0, 0.5  # (3 x 4 + 1 x 2) / 4 and (1 x 2) / 4
    assert np.allclose(mean, expected, atol=1e-12)


@pytest.mark.parametrize("rank", [2, 3, 5])
def test_svd_redistribution_reproduces_the_mean_when_the_rank_allows(rank):
    mean = _hand_mean()  # rank 2

    b, a = truncated_factors(mean, rank, scaling=16.0 / rank)

    assert b.shape == (3, rank) and a.shape == (rank, 4)
    assert np.allclose(16.0 / rank * b.astype(np.float64) @ a, mean, atol=1e-6)
    # Slots past the mean's rank carry nothing (past min(out, in) = 3 there is no singular value at all).
    assert not np.any(b[:, 2:]) and not np.any(a[2:])


def test_truncation_error_equals_the_tail_singular_values():
    mean = _hand_mean()
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((6, 5))

    b, a = truncated_factors(mean, 1, scaling=2.0)
    b2, a2 = truncated_factors(dense, 2, scaling=0.5)

    # Rank 1 keeps 3 E00 and drops the singular value 0.5.
    assert np.allclose(2.0 * b @ a, np.diag([3.0, 0.0, 0.0, 0.0])[:3], atol=1e-6)
    assert np.linalg.norm(mean - 2.0 * b @ a) == pytest.approx(0.5, abs=1e-6)
    s = np.linalg.svd(dense, compute_uv=False)
    err = dense - 0.5 * b2.astype(np.float64) @ a2
    assert np.linalg.norm(err) == pytest.approx(np.sqrt(np.sum(s[2:] ** 2)), rel=1e-5)  # Frobenius: the whole tail
    assert np.linalg.norm(err, 2) == pytest.approx(s[2], rel=1e-5)  # spectral: the first dropped one
    # The factors share the singular values evenly: B^T B = A A^T = S_r / s.
    assert np.allclose(b2.T @ b2, a2 @ a2.T, atol=1e-5)


def test_rank_is_the_largest_that_fits_the_share_else_the_smallest():
    bits = {2: 1000, 4: 2000, 8: 4000}

    assert choose_rank([2, 4, 8], bits, max_bits=8000, share=0.5) == 8
    assert choose_rank([2, 4, 8], bits, max_bits=7999, share=0.5) == 4
    assert choose_rank([8, 2, 4], bits, max_bits=2000, share=1.0) == 4
    assert choose_rank([2, 4, 8], bits, max_bits=10, share=1.0) == 2


def _build(**workload):
    import workloads
    from sim.config.scenario import Scenario

    raw = tiny_scenario("flexlora", **{**ONE, **workload})
    raw["cell"]["bandwidth_mhz"] = 1.0
    scn = Scenario.model_validate(raw)
    return scn, workloads.create("flexlora", scn.workload, scn.clients.count, scn.seed)


def _upload_bytes(model, rank: int) -> int:
    """Hand size of encode_arrays at fp16 of every LoRA A [r, in] and B [out, r]: 6-byte header, then per array
    name length, name, ndim, two u32 dimensions and 2 bytes a value."""
    total = 6
    for n, p in model.named_parameters():
        if "lora_" in n:
            numel = rank * (p.shape[1] if "lora_A" in n else p.shape[0])
            total += 2 + len(n) + 1 + 8 + 2 * numel
    return total


def test_a_rank_r_client_trains_only_its_first_r_slots():
    _, fl = _build(flex_rank_rule="list", flex_ranks=[2, 8])
    c = fl.clients[0]
    lora = {n: p for n, p in c.model.named_parameters() if "lora_" in n}

    fl.train_private(c)

    assert fl.rank(0) == 2 and fl.rank(1) == 8
    for n, p in lora.items():
        rest = p[2:] if "lora_A" in n else p[:, 2:]
        assert not torch.any(rest)  # a rank-8 slot with zeros past 2: exactly a rank-2 LoRA
    assert any(torch.any(p[:, :2]) for n, p in lora.items() if "lora_B" in n)  # what it learnt lives in its slots
    scalings = {m.scaling["default"] for m in c.model.modules() if hasattr(m, "lora_A") and isinstance(m.scaling, dict)}
    assert scalings == {fl.cfg.lora_alpha / 2}


def test_heterogeneous_ranks_give_heterogeneous_uploads_and_downloads():
    from sim.core.engine import Engine

    scn, fl = _build(flex_rank_rule="list", flex_ranks=[2, 4, 8])
    result = Engine(scn, fl).run()
    col = result.client_column

    rounds, client = col("round"), col("client")
    ranks = [2, 4, 8, 2]
    expected = [8 * _upload_bytes(fl.clients[i].model, ranks[i]) for i in range(4)]
    assert fl.ranks == ranks
    assert (col("outcome") == "delivered").all()
    assert col("payload_bits")[rounds == 0].tolist() == expected
    # Round 0 downloads nothing (every client starts from its own init); round 1 each its own rank's factors.
    assert col("downlink_bits")[rounds == 0].tolist() == [0] * 4
    assert col("downlink_bits")[rounds == 1].tolist() == expected
    # Each client holds the mean truncated to its rank: within fp16 of the Eckart-Young error, the tail singular values.
    delta = fl.global_delta[fl.clients[0].shape]
    for i in (0, 2):
        held, r = decode_arrays(fl.down[i].content), ranks[i]
        for pre, mean in delta.items():
            b, a = held[pre + ".lora_B.default.weight"], held[pre + ".lora_A.default.weight"]
            approx = fl.cfg.lora_alpha / r * b.astype(np.float64) @ a
            tail = np.linalg.svd(mean, compute_uv=False)[r:]
            # fp16 on the air: within a relative 1e-2 of the Eckart-Young error.
            assert np.linalg.norm(mean - approx) <= np.sqrt(np.sum(tail**2)) + 1e-2 * np.linalg.norm(mean) + 1e-6
    assert client[rounds == 1].tolist() == [0, 1, 2, 3]
    # Storage: the fp32 model without the slots past each client's rank (A [8, in] and B [out, 8] per module).
    model = fl.clients[0].model
    slot_sizes = sum(p.shape[1] if "lora_A" in n else p.shape[0] for n, p in model.named_parameters() if "lora_" in n)
    full = 4 * sum(p.numel() for p in model.parameters())
    assert col("client_storage_bytes")[rounds == 0].tolist() == [full - 4 * (8 - r) * slot_sizes for r in ranks]


def test_budget_rule_picks_each_clients_rank_from_its_first_budget():
    _, fl = _build(flex_rank_rule="budget", flex_ranks=[2, 4, 8], flex_budget_share=0.5)
    bits = {r: fl.upload_bits(0, r) for r in (2, 4, 8)}
    budgets = [10**9, 2 * bits[4], 2 * bits[4] - 1, 10]

    payloads = [fl.local_update(i, 0, Budget(b, 1e6, 20.0, 1.0)) for i, b in enumerate(budgets)]

    assert fl.ranks == [8, 4, 2, 2]
    assert payloads[3] is None  # rank 2 does not fit 10 bits: skipped, its rank fixed all the same
    assert [p.bits for p in payloads[:3]] == [bits[8], bits[4], bits[2]]
    assert bits[2] == 8 * _upload_bytes(fl.clients[0].model, 2)
    assert fl.local_update(0, 1, Budget(bits[8] - 1, 1e6, 20.0, 1.0)) is None  # the rank stays; too small: skip


def test_upload_roundtrips_through_the_encoder():
    _, fl = _build(flex_rank_rule="list", flex_ranks=[4])
    state = fl._state(fl.clients[0])

    back = decode_arrays(encode_arrays(state, "fp16"))

    assert set(back) == set(state)
    for n in state:
        assert np.array_equal(back[n], state[n].astype(np.float16).astype(np.float32))


def test_flexlora_refuses_a_rank_above_lora_rank(tmp_path):
    from sim.config.scenario import ScenarioError, load_scenario

    path = tmp_path / "s.yaml"
    path.write_text("workload: {algorithm: flexlora, lora_rank: 4, flex_ranks: [2, 8]}\n")
    with pytest.raises(ScenarioError, match=r"s.yaml:1: workload.flex_ranks\[1\]: 8 is larger than lora_rank=4"):
        load_scenario(path)

"""Payload coding: exact sizes, round trips within the stated quantisation, bits vs the bound."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.payload import (
    TopK,
    bound_bits_per_entry,
    decode_arrays,
    decode_topk,
    encode_arrays,
    encode_topk,
    index_bits_fixed,
    topk_bits,
    decode_masked,
    encode_masked,
    pack_parts,
    unpack_parts,
)


@st.composite
def topk_messages(draw):
    vocab = draw(st.integers(2, 300))
    k = draw(st.integers(1, vocab))
    positions = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dense = rng.normal(0, draw(st.sampled_from([0.01, 1.0, 30.0])), size=(positions, vocab)).astype(np.float32)
    return TopK.from_dense(dense, k)


@settings(max_examples=60, deadline=None)
@given(msg=topk_messages(), precision=st.sampled_from(["fp16", "int8"]), coding=st.sampled_from(["fixed", "entropy"]))
def test_topk_round_trip_within_quantisation(msg, precision, coding):
    data = encode_topk(msg, precision, coding)
    out = decode_topk(data)

    np.testing.assert_array_equal(out.indices, msg.indices)
    if precision == "fp16":
        np.testing.assert_array_equal(out.values, msg.values.astype(np.float16).astype(np.float32))
    else:
        span = msg.values.max(axis=1) - msg.values.min(axis=1)
        # Grid step (max - min) / 255, half a step of error, plus fp16 rounding of the bounds.
        tol = span / 510 + 2e-3 * np.abs(msg.values).max(axis=1) + 1e-6
        assert np.all(np.abs(out.values - msg.values) <= tol[:, None])


@pytest.mark.parametrize(
    "vocab, positions, k, precision, coding, bits",
    [
        # 15-byte header (magic, precision, coding: 1 byte each; V, P, k: 4 bytes each), then the body to whole bytes.
        # 4 x 32 indices at ceil(log2 2048) = 11 bits = 1408, values 4 x 32 x 16 = 2048: 3456 bits = 432 bytes.
        (2048, 4, 32, "fp16", "fixed", 8 * (15 + 432)),
        # Same indices, values 4 x 32 x 8 = 1024, plus each position's fp16 min and max 4 x 32 = 128: 320 bytes.
        (2048, 4, 32, "int8", "fixed", 8 * (15 + 320)),
        # C(10, 3) = 120; 120^2 = 14400 < 2^14: 14 index bits, values 2 x 3 x 16 = 96: 110 bits -> 14 bytes.
        (10, 2, 3, "fp16", "entropy", 8 * (15 + 14)),
        # 3 x 5 indices at ceil(log2 100) = 7 bits = 105, values 3 x 5 x 16 = 240: 345 bits -> 44 bytes.
        (100, 3, 5, "fp16", "fixed", 8 * (15 + 44)),
        # k = V: the index set is implied, only 16 values of 16 bits: 32 bytes.
        (16, 1, 16, "fp16", "entropy", 8 * (15 + 32)),
    ],
)
def test_topk_size_is_the_hand_counted_bits(vocab, positions, k, precision, coding, bits):
    dense = np.random.default_rng(0).normal(size=(positions, vocab)).astype(np.float32)

    data = encode_topk(TopK.from_dense(dense, k), precision, coding)

    assert 8 * len(data) == bits
    assert topk_bits(vocab, positions, k, precision, coding) == bits


@settings(max_examples=40, deadline=None)
@given(
    shapes=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 7)), min_size=0, max_size=4),
    precision=st.sampled_from(["fp16", "int8"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_arrays_round_trip_within_quantisation(shapes, precision, seed):
    rng = np.random.default_rng(seed)
    arrays = {f"layer.{i}.lora_A": rng.normal(size=s).astype(np.float32) for i, s in enumerate(shapes)}
    out = decode_arrays(encode_arrays(arrays, precision))

    assert sorted(out) == sorted(arrays)
    for name, a in arrays.items():
        assert out[name].shape == a.shape
        if precision == "fp16":
            np.testing.assert_array_equal(out[name], a.astype(np.float16).astype(np.float32))
        elif a.size:
            assert np.all(np.abs(out[name] - a) <= (a.max() - a.min()) / 510 + 1e-6)


def test_fixed_index_coding_costs_ceil_log2_v_per_entry():
    msg = TopK.from_dense(np.arange(2 * 1000, dtype=np.float32).reshape(2, 1000), 10)
    data = encode_topk(msg, "fp16", "fixed")
    assert len(data) * 8 == 8 * (15 + (2 * 10 * (10 + 16) + 7) // 8)
    assert index_bits_fixed(1000) == 10 and index_bits_fixed(1024) == 10 and index_bits_fixed(1025) == 11


def test_dense_message_sends_no_indices():
    msg = TopK.from_dense(np.zeros((3, 50), dtype=np.float32), 50)
    assert topk_bits(50, 3, 50, "fp16", "fixed") == 8 * (15 + 3 * 50 * 2)
    np.testing.assert_array_equal(decode_topk(encode_topk(msg)).indices[0], np.arange(50))


@pytest.mark.parametrize("vocab,k", [(2048, 8), (2048, 64), (49152, 32), (49152, 256)])
def test_entropy_coding_is_within_5_percent_of_the_bound(vocab, k):
    positions = 64
    rng = np.random.default_rng(0)
    msg = TopK.from_dense(rng.normal(size=(positions, vocab)).astype(np.float32), k)
    bits = 8 * len(encode_topk(msg, "fp16", "entropy"))
    per_entry = bits / (positions * k)
    bound = bound_bits_per_entry(vocab, k, "fp16")
    fixed = 8 * len(encode_topk(msg, "fp16", "fixed")) / (positions * k)

    assert bound <= per_entry <= 1.05 * bound
    assert per_entry < fixed


def test_bad_input_fails_with_the_value():
    with pytest.raises(ValueError, match="strictly increasing"):
        encode_topk(TopK(np.array([[3, 1]]), np.zeros((1, 2), np.float32), 5))
    with pytest.raises(ValueError, match="unknown index coding 'zip'"):
        encode_topk(TopK.from_dense(np.zeros((1, 4), np.float32), 2), coding="zip")
    assert math.isclose(bound_bits_per_entry(4, 2, "int8"), math.log2(6) / 2 + 8)


def test_masked_and_container_round_trip():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(4, 9)).astype(np.float32)
    mask = rng.random((4, 9)) < 0.4
    data = pack_parts([encode_masked(values, mask), b"", b"xyz"])
    first, empty, last = unpack_parts(data)
    got, got_mask = decode_masked(first)

    np.testing.assert_array_equal(got_mask, mask)
    np.testing.assert_array_equal(got[mask], values[mask].astype(np.float16).astype(np.float32))
    assert (empty, last) == (b"", b"xyz")
    assert len(first) == 9 + (36 + 7) // 8 + 2 * int(mask.sum())


def test_subset_ranking_is_a_bijection_onto_0_to_c_v_k():
    from itertools import combinations

    from workloads.payload import _rank_subset, _unrank_subset

    for v, k in [(5, 2), (7, 3), (6, 6), (9, 1)]:
        ranks = sorted(_rank_subset(np.array(s), v) for s in combinations(range(v), k))
        assert ranks == list(range(math.comb(v, k)))
        assert all(_unrank_subset(_rank_subset(np.array(s), v), v, k) == list(s) for s in combinations(range(v), k))
    assert _rank_subset(np.array([3, 4]), 5) == 9

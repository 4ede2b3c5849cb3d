"""Aggregation helpers against hand-worked arrays."""

import numpy as np
import pytest

from workloads.aggregate import average_arrays, average_sparse, scatter_topk, sharpen
from workloads.payload import TopK

# Two clients, one position, V = 3.  A sends {0: 0.6, 1: 0.3}; B sends {0: 0.5, 2: 0.4}.
A = TopK(np.array([[0, 1]]), np.array([[0.6, 0.3]], np.float32), 3)
B = TopK(np.array([[0, 2]]), np.array([[0.5, 0.4]], np.float32), 3)


def test_support_averaging_keeps_each_entry_at_its_senders_mean():
    (va, ma), (vb, mb) = scatter_topk(A), scatter_topk(B)
    mean, support = average_sparse([va, vb], [ma, mb], mode="support")
    np.testing.assert_allclose(mean, [[0.55, 0.3, 0.4]], rtol=1e-6)
    np.testing.assert_array_equal(support, [[True, True, True]])


def test_zero_padding_halves_entries_only_one_client_sent():
    (va, ma), (vb, mb) = scatter_topk(A), scatter_topk(B)
    mean, _ = average_sparse([va, vb], [ma, mb], mode="zeropad")
    np.testing.assert_allclose(mean, [[0.55, 0.15, 0.2]], rtol=1e-6)


def test_weights_and_entries_nobody_sent():
    (va, ma), (vb, mb) = scatter_topk(A), scatter_topk(B)
    ma[0, 1] = False  # entry 1 now sent by nobody
    mean, support = average_sparse([va, vb], [ma, mb], weights=[3, 1], mode="support")
    np.testing.assert_allclose(mean, [[0.575, 0.0, 0.4]], rtol=1e-6)
    np.testing.assert_array_equal(support, [[True, False, True]])


def test_fedavg_of_named_arrays():
    out = average_arrays([{"a": np.array([1.0, 2.0])}, {"a": np.array([3.0, 6.0])}], weights=[1, 3])
    np.testing.assert_allclose(out["a"], [2.5, 5.0])
    with pytest.raises(ValueError, match="names differ"):
        average_arrays([{"a": np.zeros(1)}, {"b": np.zeros(1)}])


def test_sharpen_squares_and_renormalises_on_the_support_by_hand():
    dense = np.array([[0.5, 0.25, 0.25]])
    sparse = np.array([[0.4, 0.2, 0.0]])

    np.testing.assert_allclose(sharpen(dense, dense > 0, 0.5), [[2 / 3, 1 / 6, 1 / 6]])
    # 0.4^2 : 0.2^2 = 0.8 : 0.2 of the support's mass 0.6; the unsent entry stays 0.
    np.testing.assert_allclose(sharpen(sparse, np.array([[True, True, False]]), 0.5), [[0.48, 0.12, 0.0]])
    assert sharpen(dense, dense > 0, 1.0) is dense


def test_sharpen_refuses_a_temperature_above_one():
    with pytest.raises(ValueError, match="1.5"):
        sharpen(np.ones((1, 2)) / 2, np.ones((1, 2), dtype=bool), 1.5)

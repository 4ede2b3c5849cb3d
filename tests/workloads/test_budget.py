import pytest

from workloads import Budget, Payload, available, create, topk_from_budget


def budget(bits):
    return Budget(max_bits=bits, rate_bps=1e6, snr_db=10.0, deadline_s=1.0)


def test_topk_is_floor_of_eta_c_t_over_d_per_position():
    # 1e6 bits, eta 0.5, 32 bits per entry, 100 positions: floor(5e5 / 3200) = 156.
    assert topk_from_budget(budget(1_000_000), positions=100, bits_per_entry=32, vocab_size=50_000, eta=0.5) == 156


def test_topk_is_clipped_to_the_vocabulary_and_skips_below_k_min():
    assert topk_from_budget(budget(10**12), positions=10, bits_per_entry=32, vocab_size=1000) == 1000
    assert topk_from_budget(budget(3199), positions=100, bits_per_entry=32, vocab_size=1000, k_min=1) == 0
    assert topk_from_budget(budget(3200 * 4), positions=100, bits_per_entry=32, vocab_size=1000, k_min=5) == 0
    assert topk_from_budget(budget(3200 * 5), positions=100, bits_per_entry=32, vocab_size=1000, k_min=5) == 5


def test_topk_rejects_nonsense():
    with pytest.raises(ValueError, match="eta"):
        topk_from_budget(budget(1), positions=1, bits_per_entry=1, vocab_size=1, eta=0.0)
    with pytest.raises(ValueError, match="k_min"):
        topk_from_budget(budget(1), positions=1, bits_per_entry=1, vocab_size=10, k_min=11)


def test_registry_knows_none_and_rejects_unknown_and_duplicates():
    assert "none" in available()
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        create("nope", None, 1, 0)
    from workloads.base import register

    with pytest.raises(ValueError, match="already registered"):
        register("none")(lambda cfg, n, seed: None)


def test_payload_sizes_are_non_negative():
    with pytest.raises(ValueError):
        Payload(-1)

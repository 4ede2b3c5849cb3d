"""Top-k KL and the hidden-projection term."""

import math

import pytest
import torch

from workloads.losses import hidden_projection_loss, topk_kl


def _dense_kl(q, logits, t):
    return torch.nn.functional.kl_div(torch.log_softmax(logits / t, -1), q, reduction="batchmean") * t**2


@pytest.mark.parametrize("normalisation", ["other", "renorm"])
def test_kl_is_zero_for_equal_distributions(normalisation):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 20, generator=g)
    q = torch.softmax(logits / 2.0, -1)
    support = torch.zeros(4, 20, dtype=torch.bool)
    support[:, :5] = True
    assert topk_kl(logits, q, support, 2.0, normalisation).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("normalisation", ["other", "renorm"])
def test_kl_matches_the_dense_reference_on_full_support(normalisation):
    g = torch.Generator().manual_seed(1)
    logits, teacher = torch.randn(3, 11, generator=g), torch.randn(3, 11, generator=g)
    q = torch.softmax(teacher / 1.5, -1)
    full = torch.ones(3, 11, dtype=torch.bool)
    got = topk_kl(logits, q, full, 1.5, normalisation)
    assert got.item() == pytest.approx(_dense_kl(q, logits, 1.5).item(), rel=1e-5)


def test_other_bucket_by_hand():
    # V = 3, support {0}; target q0 = 0.5 (other 0.5); student uniform: p0 = 1/3, other 2/3.
    kl = topk_kl(torch.zeros(1, 3), torch.tensor([[0.5, 0.0, 0.0]]), torch.tensor([[True, False, False]]))
    assert kl.item() == pytest.approx(0.5 * math.log(0.5 / (1 / 3)) + 0.5 * math.log(0.5 / (2 / 3)), rel=1e-6)
    # renorm on one entry: both are 1 on the support, so nothing to learn.
    assert topk_kl(torch.zeros(1, 3), torch.tensor([[0.5, 0, 0]]), torch.tensor([[True, False, False]]), 1.0, "renorm").item() == 0.0


def test_hidden_projection_loss_and_bad_inputs():
    assert hidden_projection_loss(torch.ones(2, 4), torch.zeros(2, 4)).item() == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        hidden_projection_loss(torch.ones(2, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        topk_kl(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2, dtype=torch.bool), 0.0)


def test_other_bucket_on_full_support_with_quantised_mass_is_the_dense_kl():
    # fp16 log-probabilities decode to a full-support target whose mass is 0.999, not 1:
    # with nothing off the support there is no bucket for the missing 0.001, so the loss
    # must be the dense KL of the renormalised target, not q_other * log(q_other / 0) = inf.
    q = torch.tensor([[0.4995, 0.2997, 0.1998]])  # 0.999 * (0.5, 0.3, 0.2)
    logits = torch.log(torch.tensor([[0.25, 0.25, 0.5]]))
    want = 0.5 * math.log(0.5 / 0.25) + 0.3 * math.log(0.3 / 0.25) + 0.2 * math.log(0.2 / 0.5)
    got = topk_kl(logits, q, torch.ones(1, 3, dtype=torch.bool), 1.0, "other")
    assert math.isfinite(got.item()) and got.item() == pytest.approx(want, rel=1e-5)

"""The distillation levers of fd_full / fd_topk_zeropad / adaptive_topk: distill_lr, distill_order, private_kl_weight."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import workloads
from sim.config.scenario import Scenario
from tests.workloads.conftest import tiny_scenario
from workloads.aggregate import sharpen
from workloads.base import Budget
from workloads.models import lora_state

pytestmark = pytest.mark.usefixtures("warmed")

BIG = Budget(max_bits=10**9, rate_bps=1e9, snr_db=30.0, deadline_s=1.0)


def make(algorithm: str = "fd_full", **workload):
    scn = Scenario.model_validate(tiny_scenario(algorithm, **workload))
    return workloads.create(algorithm, scn.workload, scn.clients.count, scn.seed)


def own_target(alg, client: int) -> tuple[np.ndarray, np.ndarray]:
    """The client's own distribution at the exchanged positions, as a dense target."""
    c = alg.clients[client]
    c.model.eval()
    with torch.no_grad():
        probs = torch.softmax(alg.public_logits(c).float() / alg.cfg.temperature, dim=-1).numpy()
    return probs, np.ones_like(probs, dtype=bool)


def other_target(alg) -> tuple[np.ndarray, np.ndarray]:
    """A target that differs from every student: all mass on the first label token."""
    p = alg.positions
    probs = np.zeros((p, alg.vocab), dtype=np.float32)
    probs[:, int(alg.label_ids[0])] = 1.0
    return probs, np.ones_like(probs, dtype=bool)


def test_public_batch_logits_are_the_full_passes_rows():
    alg = make(distill_positions=2)
    c = alg.clients[0]
    c.model.eval()
    articles = torch.tensor([5, 0, 11])
    with torch.no_grad():
        full = alg.public_logits(c)
        part, sel, _ = alg.public_batch_logits(c, articles)

    tv = alg.views[c.view]
    # Two positions per article, in the order of the articles asked for.
    assert sorted(tv.rows[sel].tolist()) == [0, 0, 5, 5, 11, 11]
    torch.testing.assert_close(part, full[sel], rtol=1e-4, atol=1e-5)


def test_private_kl_is_zero_at_the_students_own_distribution_and_positive_elsewhere():
    alg = make(private_kl_weight=2.0)
    c = alg.clients[1]
    alg.target = own_target(alg, 1)
    c.model.eval()
    with torch.no_grad():
        same = float(alg._private_kl(c)())
    alg.target = other_target(alg)
    with torch.no_grad():
        other = float(alg._private_kl(c)())

    assert abs(same) < 1e-5
    assert other > 1.0  # 2 x -log p(first label) on a model that does not put its mass there


def test_private_kl_off_gives_no_penalty_and_on_keeps_the_private_batches():
    off, on = make(), make(private_kl_weight=1.0)
    for alg in (off, on):
        alg.target = other_target(alg)
    assert off._private_kl(off.clients[0]) is None

    off.local_update(0, 1, BIG)
    on.local_update(0, 1, BIG)
    # The public batches come from their own stream: the private batch draws are the same.
    assert off.clients[0].gen.get_state().equal(on.clients[0].gen.get_state())
    a, b = lora_state(off.clients[0].model), lora_state(on.clients[0].model)
    assert any(not np.array_equal(a[n], b[n]) for n in a)  # and the term did change the update


def test_distill_order_changes_what_is_uploaded_only_when_there_is_something_to_distil():
    before, after = make(distill_order="before", distill_steps=3), make(distill_order="after", distill_steps=3)
    first = [alg.local_update(0, 0, BIG).content for alg in (before, after)]
    for alg in (before, after):
        alg.target = other_target(alg)
    second = [alg.local_update(0, 1, BIG).content for alg in (before, after)]

    assert first[0] == first[1]  # round 0: no aggregate yet, so the order does not matter
    assert second[0] != second[1]


def test_digest_last_moves_the_upload_toward_the_aggregate():
    # Prepare: the same client, the same one-label target, distilled before or after private training.
    mass = {}
    for order in ("before", "after"):
        alg = make(distill_order=order, distill_steps=8, lr=0.01)
        alg.target = other_target(alg)
        alg.local_update(0, 1, BIG)
        probs, _ = own_target(alg, 0)
        mass[order] = float(probs[:, int(alg.label_ids[0])].mean())

    # Distilling last leaves the target's label with more mass than private steps after the digest do.
    assert mass["after"] > mass["before"]


def test_distill_lr_sets_the_distillation_steps_rate_and_is_restored():
    fast = make(lr=0.001, distill_lr=0.02, distill_steps=3)
    plain = make(lr=0.02, distill_steps=3)
    for alg in (fast, plain):
        alg.target = other_target(alg)
        alg._distil(alg.clients[2])

    a, b = lora_state(fast.clients[2].model), lora_state(plain.clients[2].model)
    assert all(np.allclose(a[n], b[n], atol=1e-6) for n in a)  # distill_lr 0.02 = a plain lr of 0.02
    assert [g["lr"] for g in fast.clients[2].opt.param_groups] == [0.001]


def test_work_flop_counts_the_private_kl_passes():
    off, on = make(), make(private_kl_weight=1.0)
    c = on.clients[0]
    public = on.views[c.view].public
    extra = 6 * c.params * on.cfg.local_steps * min(on.cfg.batch_size, public.shape[0]) * public.shape[1]

    assert on.work_flop(0, 0) == off.work_flop(0, 0)  # round 0 has no aggregate to distil toward
    assert on.work_flop(0, 1) == pytest.approx(off.work_flop(0, 1) + extra)


def test_aggregate_sharpening_sharpens_the_broadcast_target():
    plain, sharp = make(), make(aggregate_sharpening=0.5)
    for alg in (plain, sharp):
        payloads = {i: alg.local_update(i, 0, BIG) for i in range(4)}
        alg.aggregate(0, payloads, {})

    want = sharpen(plain.target[0], plain.target[1], 0.5)
    np.testing.assert_allclose(sharp.target[0], want, rtol=1e-2, atol=1e-6)  # through the fp16 downlink
    assert sharp.target[0].max(axis=-1).mean() > plain.target[0].max(axis=-1).mean()


def test_private_kl_carries_adaptive_topks_hidden_term():
    # Prepare: adaptive_topk with the hidden projection shared; a target equal to the student's own logits.
    with_h, without_h = make("adaptive_topk", private_kl_weight=1.0), make("adaptive_topk", private_kl_weight=1.0, hidden_weight=0)
    for alg in (with_h, without_h):
        alg.target = own_target(alg, 0)
    c = with_h.clients[0]
    with torch.no_grad():
        with_h.public_logits(c)
        h = with_h._hidden(0)
    with_h.hidden_target = {c.family: h + 1.0}  # every hidden entry off by one: MSE exactly 1

    with torch.no_grad():
        c.model.eval()
        value = float(with_h._private_kl(c)())
        without_h.clients[0].model.eval()
        plain = float(without_h._private_kl(without_h.clients[0])())

    assert abs(plain) < 1e-5
    assert value == pytest.approx(with_h.cfg.hidden_weight * 1.0, rel=1e-3)

"""Distillation losses (torch): top-k KL with temperature and the LoRA hidden-projection term.

Normalisation of a sparse target (not published by AdaLD; both kept):

- ``renorm``: target and student are renormalised over the support, so only
  the shape of the distribution on the sent entries is matched;
- ``other``: everything off the support is one extra "other" bucket, with the
  target's remaining mass 1 - sum(q) and the student's mass outside the
  support, so the student is also told how much mass the tail carries.

On full support both reduce to the dense KL(q || p).  The KL is multiplied by
T^2 so its gradient scale does not shrink with temperature (Hinton et al. 2015).
"""

from __future__ import annotations

import torch

__all__ = ["topk_kl", "hidden_projection_loss"]


def topk_kl(
    student_logits: torch.Tensor,
    target_probs: torch.Tensor,
    support: torch.Tensor,
    temperature: float = 1.0,
    normalisation: str = "other",
) -> torch.Tensor:
    """Mean over positions of KL(target || student) on the target's support.

    student_logits : [P, V] raw logits of the student
    target_probs : [P, V] target probabilities (at the same temperature), used where ``support``
    support : [P, V] bool, the entries the target carries
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logp = torch.log_softmax(student_logits.float() / temperature, dim=-1)
    q = torch.where(support, target_probs.float().clamp_min(0.0), torch.zeros_like(logp))
    neg_inf = torch.full_like(logp, float("-inf"))
    log_on = torch.logsumexp(torch.where(support, logp, neg_inf), dim=-1)  # log student mass on the support
    tiny = torch.finfo(torch.float32).tiny
    if normalisation == "renorm":
        q = q / q.sum(dim=-1, keepdim=True).clamp_min(tiny)
        logp_s = logp - log_on[:, None]
        kl = (q * (torch.log(q.clamp_min(tiny)) - logp_s)).where(support, torch.zeros_like(q)).sum(-1)
    elif normalisation == "other":
        q_sum = q.sum(dim=-1)
        # A row whose support covers the whole vocabulary has no "other" bucket to hold
        # 1 - sum(q) (which quantised targets leave slightly off zero): renormalise it instead,
        # or the bucket's KL term is q_other * (log q_other - log 0) = inf.
        full = support.all(dim=-1)
        q = torch.where((q_sum[:, None] > 1.0) | full[:, None], q / q_sum[:, None].clamp_min(tiny), q)
        q_other = torch.where(full, torch.zeros_like(q_sum), (1.0 - q.sum(dim=-1)).clamp_min(0.0))
        log_off = torch.logsumexp(torch.where(support, neg_inf, logp), dim=-1)
        on = (q * (torch.log(q.clamp_min(tiny)) - logp)).where(support, torch.zeros_like(q)).sum(-1)
        off = torch.where(q_other > 0, q_other * (torch.log(q_other.clamp_min(tiny)) - log_off), torch.zeros_like(q_other))
        kl = on + off
    else:
        raise ValueError(f"unknown KL normalisation {normalisation!r}; known: other, renorm")
    return kl.mean() * temperature**2


def hidden_projection_loss(h_student: torch.Tensor, h_target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between LoRA down-projection outputs [P, r]."""
    if h_student.shape != h_target.shape:
        raise ValueError(f"hidden projections differ in shape: {tuple(h_student.shape)} vs {tuple(h_target.shape)}")
    return torch.mean((h_student.float() - h_target.float()) ** 2)

"""The keys of the federated-distillation round (workloads/distill.py) shared by fd_full, fd_topk_zeropad and adaptive_topk; torch-free."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workloads.config import LMConfig

__all__ = ["DistillConfig"]


class DistillConfig(LMConfig):
    """Full-vocabulary logits distilled on the public set (fd_full); the base of the top-k variants."""

    distill_lr: float | None = Field(
        None, gt=0, le=1, description="learning rate of the distillation steps (fd_full, fd_topk_zeropad, adaptive_topk); null = lr"
    )
    distill_order: Literal["before", "after"] = Field(
        "before",
        description="fd_full, fd_topk_zeropad, adaptive_topk: distil toward the last aggregate before private training "
        "(before) or after it (after: the evaluated and uploaded model has distilled last)",
    )
    aggregate_sharpening: float = Field(
        1.0, gt=0, le=1,
        description="fd_full, fd_topk_zeropad, adaptive_topk: the server raises each aggregated probability to "
        "1/this and renormalises on the support (DS-FL's entropy reduction; 1 = the plain mean)",
    )
    private_kl_weight: float = Field(
        0.0, ge=0, le=1e3,
        description="fd_full, fd_topk_zeropad, adaptive_topk: weight of a KL term toward the last aggregate added to "
        "every private step, on batch_size public articles drawn per step (0 = off)",
    )

"""The keys of ``fd_topk_zeropad`` (workloads/fd_topk_zeropad.py); torch-free, read by the scenario schema."""

from __future__ import annotations

from pydantic import Field

from workloads.distill_config import DistillConfig

__all__ = ["FdTopkZeropadConfig"]


class FdTopkZeropadConfig(DistillConfig):
    """Fixed top-k logits, zero-padded mean."""

    k_fixed: int = Field(32, ge=1, le=262_144, description="k of fd_topk_zeropad")

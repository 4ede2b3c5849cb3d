"""``fd_full``: every client sends its full-vocabulary log-probabilities on the public set (FedMD / DS-FL style).

The upload ignores the link budget; a link that cannot carry it misses the deadline.
"""

from __future__ import annotations

from workloads.base import Budget, register
from workloads.distill import Distillation
from workloads.distill_config import DistillConfig

__all__ = ["FdFull"]


@register("fd_full", config=DistillConfig)
class FdFull(Distillation):
    aggregation = "support"  # full support everywhere: identical to a plain mean

    def choose_k(self, client: int, budget: Budget, extra_bits: int) -> int:
        return self.vocab

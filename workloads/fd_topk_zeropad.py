"""``fd_topk_zeropad``: a fixed Top-k per position, zero-padded aggregation (the baseline AdaLD improves on).

k is ``workload.k_fixed`` whatever the link; entries a client did not send
count as zeros in the server's mean.
"""

from __future__ import annotations

from workloads.base import Budget, register
from workloads.distill import Distillation
from workloads.fd_topk_zeropad_config import FdTopkZeropadConfig

__all__ = ["FdTopkZeropad"]


@register("fd_topk_zeropad", config=FdTopkZeropadConfig)
class FdTopkZeropad(Distillation):
    aggregation = "zeropad"

    def choose_k(self, client: int, budget: Budget, extra_bits: int) -> int:
        return min(self.cfg.k_fixed, self.vocab)

"""fedwave.workloads: the learning side (algorithms, payload coding, aggregation).

Never imports ``sim`` or ``simpy``, and importing it does not load torch: the
language-model algorithms (every registered name but ``none``; see
:func:`available`) are imported by :func:`create` when first asked for.
"""

from workloads import network_only
from workloads.base import Algorithm, Budget, Payload, available, create, register
from workloads.budget import topk_from_budget

__all__ = ["Algorithm", "Budget", "Payload", "available", "create", "network_only", "register", "topk_from_budget"]

"""fedwave.workloads: the learning side (algorithms, payload coding, aggregation).

Never imports ``sim`` or ``simpy``.  Importing this package registers the
algorithms that need no optional dependency.
"""

from workloads import network_only
from workloads.base import Algorithm, Budget, Payload, available, create, register
from workloads.budget import topk_from_budget

__all__ = ["Algorithm", "Budget", "Payload", "available", "create", "network_only", "register", "topk_from_budget"]

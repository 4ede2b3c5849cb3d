"""``workload.algorithm: none``: fixed-size synthetic traffic, no learning.

Exercises the whole network path (broadcast, compute, budget, upload,
deadline) without loading torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from workloads.base import Algorithm, Budget, Payload, register
from workloads.config import WorkloadConfig

__all__ = ["NetworkOnly", "NetworkOnlyConfig"]


class NetworkOnlyConfig(WorkloadConfig):
    """The keys of ``none``: the synthetic traffic of each client and round."""

    asynchronous: ClassVar[bool] = True

    payload_bits: int = Field(1_000_000, ge=1, le=10**12, description="uplink payload per client [bit]")
    downlink_bits: int = Field(1_000_000, ge=0, le=10**12, description="broadcast payload per client [bit]")
    work_flop: float = Field(1e12, ge=0, le=1e21, description="local compute per client per round [FLOP]")


@register("none", config=NetworkOnlyConfig, summary="network only")
class NetworkOnly(Algorithm):
    """Every client uploads ``payload_bits`` and receives ``downlink_bits`` per round."""

    def __init__(self, cfg: Any, num_clients: int, seed: Any) -> None:
        self.up = Payload(int(cfg.payload_bits))
        self.down = Payload(int(cfg.downlink_bits))
        self.flop = float(cfg.work_flop)
        self.delivered: list[int] = []

    def broadcast(self, round_index: int) -> Payload:
        return self.down

    def work_flop(self, client: int, round_index: int) -> float:
        return self.flop

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        # Oblivious traffic: the size does not adapt to the budget, so poor
        # links show up as deadline misses rather than smaller payloads.
        return self.up

    def fixed_upload(self, round_index: int) -> Payload:
        return self.up

    def fixed_work_flop(self, round_index: int) -> float:
        return self.flop

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        self.delivered.append(len(payloads))

    def evaluate(self, round_index: int) -> dict[str, float]:
        return {}

"""``fedavg_lora``: clients send their LoRA weights, the server averages them (FedIT / FS-LLM style).

Only adapters of the same family and size have the same shapes, so averaging
is per shape group (``LMClient.shape``: family, width, layers, heads), weighted
by private data size; the upload ignores the link budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from workloads.aggregate import average_arrays
from workloads.base import Budget, Payload, register
from workloads.fedcore import FedLM
from workloads.models import load_lora_state, lora_state
from workloads.payload import decode_arrays, encode_arrays, pack_parts, unpack_parts

__all__ = ["FedAvgLora"]


@register("fedavg_lora")
class FedAvgLora(FedLM):
    uses_public = False

    def __init__(self, cfg: Any, num_clients: int, seed: int) -> None:
        super().__init__(cfg, num_clients, seed)
        self.global_state: dict[str, dict[str, np.ndarray]] = {}  # shape -> adapter
        self.down = Payload(0)
        self.down_shape: dict[str, Payload] = {}  # what a client of each shape downloads

    def broadcast(self, round_index: int) -> Payload:
        return self.down

    def downlink(self, client: int, round_index: int) -> Payload:
        # A client downloads its own shape's adapter only, not every shape's.
        return self.down_shape.get(self.clients[client].shape, Payload(0))

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        c = self.clients[client]
        if c.shape in self.global_state:
            load_lora_state(c.model, self.global_state[c.shape])
        self.train_private(c)
        data = encode_arrays(lora_state(c.model), self.cfg.value_precision)
        return Payload(8 * len(data), content=data)

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        groups: dict[str, list[tuple[dict[str, np.ndarray], float]]] = {}
        for client, p in payloads.items():
            c = self.clients[client]
            groups.setdefault(c.shape, []).append((decode_arrays(p.content), float(c.ids.shape[0])))
        for shape, items in groups.items():
            self.global_state[shape] = average_arrays([s for s, _ in items], [w for _, w in items])
        if self.global_state:
            parts = [encode_arrays(self.global_state[f], self.cfg.value_precision) for f in sorted(self.global_state)]
            self.down = Payload(8 * len(pack_parts(parts)), content=pack_parts(parts))
            # Clients use what they decode, not the server's float32 copy.
            for f, part in zip(sorted(self.global_state), unpack_parts(self.down.content)):
                self.global_state[f] = decode_arrays(part)
                self.down_shape[f] = Payload(8 * len(part), content=part)

    def evaluate(self, round_index: int) -> dict[str, float]:
        # The global model of each shape is what a client would run after the next download.
        for c in self.clients:
            if c.shape in self.global_state:
                load_lora_state(c.model, self.global_state[c.shape])
        return super().evaluate(round_index)

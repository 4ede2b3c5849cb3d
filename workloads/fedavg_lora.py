"""``fedavg_lora``: clients send their LoRA weights, the server averages them (FedIT / FS-LLM style).

Only adapters of the same family and size have the same shapes, so averaging
is per shape group (``LMClient.shape``: family, width, layers, heads), weighted
by private data size; the upload ignores the link budget.

Asynchronous rounds (FedBuff): ``pull`` gives a client the model version it
downloaded; its update is applied to the server's newer model as a delta,
``x <- x + sum_i w_i s_i (y_i - b_i) / sum_i w_i`` (``b_i`` the adapter it
started from, ``s_i`` its staleness weight from ``Payload.meta``, ``w_i`` its
data size; server learning rate 1), which is the synchronous average when
every ``s_i = 1`` and every ``b_i = x``.
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
from workloads.fedavg_lora_config import FedAvgLoraConfig

__all__ = ["FedAvgLora"]


@register("fedavg_lora", config=FedAvgLoraConfig)
class FedAvgLora(FedLM):
    uses_public = False

    def __init__(self, cfg: Any, num_clients: int, seed: np.random.SeedSequence) -> None:
        super().__init__(cfg, num_clients, seed)
        self.global_state: dict[str, dict[str, np.ndarray]] = {}  # shape -> adapter
        self.down = Payload(0)
        self.down_shape: dict[str, Payload] = {}  # what a client of each shape downloads
        # Async: the adapter each client pulled, then (by Payload.meta base_id) the one each upload started from.
        self._pulled: dict[int, dict[str, np.ndarray]] = {}
        self._base: dict[int, dict[str, np.ndarray]] = {}
        self._next_base = 0

    def broadcast(self, round_index: int) -> Payload:
        return self.down

    def downlink(self, client: int, round_index: int) -> Payload:
        # A client downloads its own shape's adapter only, not every shape's.
        return self.down_shape.get(self.clients[client].shape, Payload(0))

    def pull(self, client: int, version: int) -> None:
        """Async: client's download of model ``version`` arrived; its next update starts from it."""
        c = self.clients[client]
        # global_state entries are replaced, never changed in place: holding one is a snapshot.
        self._pulled[client] = self.global_state.get(c.shape) or lora_state(c.model)

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        c = self.clients[client]
        base = self._pulled.pop(client, None)
        if base is not None:
            load_lora_state(c.model, base)
        elif c.shape in self.global_state:
            load_lora_state(c.model, self.global_state[c.shape])
        self.train_private(c)
        data = encode_arrays(lora_state(c.model), self.cfg.value_precision)
        payload = Payload(8 * len(data), content=data)
        if base is not None:
            # An upload the server drops (stale, lost) leaves its base here: one adapter per such upload.
            self._base[self._next_base] = base
            payload.meta["base_id"] = float(self._next_base)
            self._next_base += 1
        return payload

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        if any("staleness_weight" in p.meta for p in payloads.values()):
            self._aggregate_async(payloads)
        else:
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

    def _aggregate_async(self, payloads: Mapping[int, Payload]) -> None:
        groups: dict[str, list[tuple[dict[str, np.ndarray], dict[str, np.ndarray], float, float]]] = {}
        for client, p in payloads.items():
            c = self.clients[client]
            base = self._base.pop(int(p.meta["base_id"]))
            groups.setdefault(c.shape, []).append(
                (decode_arrays(p.content), base, float(c.ids.shape[0]), float(p.meta["staleness_weight"]))
            )
        for shape, items in groups.items():
            x = self.global_state.get(shape)
            if x is None:
                # No server model of this shape yet: the staleness-weighted average of the updates.
                self.global_state[shape] = average_arrays([y for y, _, _, _ in items], [w * s for _, _, w, s in items])
                continue
            total = sum(w for _, _, w, _ in items)
            self.global_state[shape] = {
                k: (x[k] + sum(w * s * (y[k] - b[k]) for y, b, w, s in items) / total).astype(np.float32)
                for k in x
            }

    def evaluate(self, round_index: int) -> dict[str, float]:
        # The global model of each shape is what a client would run after the next download.
        for c in self.clients:
            if c.shape in self.global_state:
                load_lora_state(c.model, self.global_state[c.shape])
        return super().evaluate(round_index)

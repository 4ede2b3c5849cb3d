"""The two reference algorithms every comparison carries: ``local_only`` and ``centralised``.

- ``local_only`` (lower bound): every client trains its LoRA adapter on its
  own private data, ``local_steps`` per round, exactly as the other
  language-model algorithms do, and sends and receives nothing.  What an
  algorithm gains over it is what federation adds.
- ``centralised`` (upper bound): one model (client 0's family and size, on the
  same base) trained on the union of the clients' private data with the same
  total number of steps, ``local_steps`` x clients per round, batches drawn
  from the union.  It stands for all data at one place: it has no network at
  all, so every client's upload is "skipped" and its records show zero bytes,
  airtime and compute on the clients; ``eval_network`` is 0 in every
  evaluated round to say so.

Both evaluate like the others on the same test set: ``local_only`` the mean
of the clients' own models, ``centralised`` its one model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from workloads.base import Budget, Payload, register
from workloads.fedcore import FedLM, LMClient, classification_metrics
from workloads.config import LMConfig

__all__ = ["LocalOnly", "Centralised"]


@register("local_only", config=LMConfig)
class LocalOnly(FedLM):
    uses_public = False

    def broadcast(self, round_index: int) -> Payload:
        return self.empty()

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        self.train_private(self.clients[client])
        return None  # nothing is sent

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        return None


@register("centralised", config=LMConfig)
class Centralised(FedLM):
    uses_public = False

    def __init__(self, cfg: Any, num_clients: int, seed: np.random.SeedSequence) -> None:
        super().__init__(cfg, num_clients, seed)
        first = self.clients[0]
        # Every private article in client 0's tokenizer (the anchor's), which the one model reads.
        union = torch.as_tensor(np.concatenate(self.task.client_ids), device=self.device)
        self.model = LMClient(0, first.family, first.model, union, first.gen, first.opt, first.params, first.shape, first.view)
        self.attach_prefix(self.model)  # the union's own prefix states (client 0's are of its share only)
        self.steps_per_round = cfg.local_steps * num_clients
        self.loss = math.nan

    def broadcast(self, round_index: int) -> Payload:
        return self.empty()

    def work_flop(self, client: int, round_index: int) -> float:
        return 0.0  # the clients do nothing; the training happens at the one place that holds all data

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        return None

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        # local_steps x clients steps on the union: the same number of steps as the clients together.
        self.loss = self.train_private(self.model, steps=self.steps_per_round)

    def evaluate(self, round_index: int) -> dict[str, float]:
        loss, pred = self.evaluate_model(self.model.model, self.model)
        acc, f1 = classification_metrics(pred, self.task.test_y, len(self.task.label_names))
        return {"eval_loss": loss, "eval_accuracy": acc, "eval_macro_f1": f1, "eval_network": 0.0}

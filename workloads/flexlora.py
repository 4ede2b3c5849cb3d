"""``flexlora``: each client its own LoRA rank; the server averages full-size updates and redistributes by SVD.

FlexLoRA (Bai et al., NeurIPS 2024, arXiv 2402.11505), with the choices its
text does not fix made configurable and listed in docs/algorithms.md:

- Rank per client, fixed once: with ``flex_rank_rule: budget`` (default) a
  client takes, at its first upload, the largest rank in ``flex_ranks`` whose
  exact encoded upload fits ``flex_budget_share`` of that round's budget
  (``max_bits`` already holds the client's device speed, through the compute
  time before the upload, and its link); none fits: the smallest.  With
  ``list`` client i takes ``flex_ranks[i]`` (cycled).  Later rounds upload at
  that rank, or skip when it no longer fits the whole budget.
- A rank-r client is a rank-``lora_rank`` PEFT LoRA whose slots past r are
  zero in both A and B: their gradients are exactly zero, so AdamW never moves
  them and the model is a rank-r LoRA; its scaling is set to alpha / r, as a
  rank-r LoRA's is.  Only the first r rows of A and columns of B travel.
- Server: per LoRA module, Delta W_i = (alpha / r_i) B_i A_i, the weighted
  mean over the clients that delivered (weights: private data sizes; only
  models of one shape are averaged, as fedavg_lora does), and each client
  gets the rank-r_i truncated SVD of the mean, split evenly between the
  factors: B = U_r sqrt(S_r / s), A = sqrt(S_r / s) V_r^T (s = alpha / r_i),
  so that s B A is the best rank-r_i approximation of the mean
  (Eckart-Young).  Downloads differ per client (``downlink``).
- A client's rank is unknown until its first upload, so until then it
  downloads at ``lora_rank``; it then truncates what it holds to its rank by
  the same SVD (before any aggregation, when B is still zero, it keeps the
  first r rows of its random A).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from workloads.base import Budget, Payload, register
from workloads.fedcore import FedLM, LMClient
from workloads.payload import decode_arrays, encode_arrays
from workloads.flexlora_config import FlexLoraConfig

__all__ = ["FlexLoRA", "truncated_factors", "mean_delta", "choose_rank"]

_A, _B = ".lora_A.default.weight", ".lora_B.default.weight"


def truncated_factors(delta: np.ndarray, rank: int, scaling: float) -> tuple[np.ndarray, np.ndarray]:
    """(B [out, rank], A [rank, in]) with scaling * B @ A the best rank-``rank`` approximation of ``delta`` [out, in].

    Singular values past min(out, in) do not exist: those slots are zero.
    In float64 through torch, which keeps to ``workload.threads`` (numpy's
    BLAS spreads over every core and crawls on a loaded machine).
    """
    u, s, vh = torch.linalg.svd(torch.as_tensor(np.asarray(delta, np.float64)), full_matrices=False)
    r = min(rank, int(s.numel()))
    root = torch.sqrt(s[:r] / scaling)
    b = np.zeros((delta.shape[0], rank))
    a = np.zeros((rank, delta.shape[1]))
    b[:, :r] = (u[:, :r] * root).numpy()
    a[:r] = (root[:, None] * vh[:r]).numpy()
    return b.astype(np.float32), a.astype(np.float32)


def mean_delta(factors: Sequence[tuple[np.ndarray, np.ndarray, float]], weights: Sequence[float]) -> np.ndarray:
    """sum_i w_i s_i B_i A_i / sum_i w_i over (B_i [out, r_i], A_i [r_i, in], s_i), in float64."""
    if not factors or len(factors) != len(weights):
        raise ValueError(f"need one weight per client update, got {len(factors)} updates and {len(weights)} weights")
    total = float(sum(weights))
    if total <= 0:
        raise ValueError(f"weights must sum to a positive value, got {total}")
    # One product of the stacked factors: [B_1 c_1, ..., B_n c_n] @ [A_1; ...; A_n], c_i = w_i s_i / sum w.
    left = torch.cat([torch.as_tensor(np.asarray(b, np.float64)) * (w * s / total) for (b, _, s), w in zip(factors, weights)], 1)
    right = torch.cat([torch.as_tensor(np.asarray(a, np.float64)) for _, a, _ in factors], 0)
    return (left @ right).numpy()


def choose_rank(ranks: Sequence[int], upload_bits: Mapping[int, int], max_bits: int, share: float) -> int:
    """The largest rank whose upload fits ``share`` x ``max_bits``; the smallest rank when none does."""
    fitting = [r for r in ranks if upload_bits[r] <= share * max_bits]
    return max(fitting) if fitting else min(ranks)


def _modules(model: Any) -> dict[str, Any]:
    """LoRA-wrapped modules by the prefix of their parameter names (``...q_proj``)."""
    return {n: m for n, m in model.named_modules() if hasattr(m, "lora_A") and "default" in getattr(m, "lora_A", {})}


@register("flexlora", config=FlexLoraConfig)
class FlexLoRA(FedLM):
    uses_public = False

    def __init__(self, cfg: Any, num_clients: int, seed: np.random.SeedSequence) -> None:
        super().__init__(cfg, num_clients, seed)
        self.slot = cfg.lora_rank
        self.ranks: list[int | None] = [None] * num_clients
        if cfg.flex_rank_rule == "list":
            for i in range(num_clients):
                self._set_rank(i, cfg.flex_ranks[i % len(cfg.flex_ranks)])
        self.global_delta: dict[str, dict[str, np.ndarray]] = {}  # shape -> module prefix -> mean Delta W
        self.down: dict[int, Payload] = {}  # what each client downloads now
        self.held: dict[int, dict[str, np.ndarray]] = {}  # what each client decodes from it

    # ------------------------------------------------------------------ ranks and factors

    def rank(self, client: int) -> int:
        """The client's rank, ``lora_rank`` until it has chosen one."""
        r = self.ranks[client]
        return self.slot if r is None else r

    def _factors(self, c: LMClient) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
        """module prefix -> (B [out, r], A [r, in], scaling) of the client's LoRA at its rank."""
        r, out = self.rank(c.index), {}
        for name, m in _modules(c.model).items():
            a = m.lora_A["default"].weight.detach().cpu().float().numpy()
            b = m.lora_B["default"].weight.detach().cpu().float().numpy()
            out[name] = (b[:, :r].copy(), a[:r].copy(), float(m.scaling["default"]))
        return out

    def _state(self, c: LMClient) -> dict[str, np.ndarray]:
        """The client's LoRA at its rank, as named arrays (what it uploads)."""
        state = {}
        for name, (b, a, _) in self._factors(c).items():
            state[name + _A], state[name + _B] = a, b
        return state

    def _load(self, c: LMClient, state: Mapping[str, np.ndarray]) -> None:
        """Put rank-r factors into the client's rank-``lora_rank`` slots; the slots past r become zero."""
        with torch.no_grad():
            for name, m in _modules(c.model).items():
                a_p, b_p = m.lora_A["default"].weight, m.lora_B["default"].weight
                a, b = state[name + _A], state[name + _B]
                r = a.shape[0]
                a_p.zero_()
                b_p.zero_()
                a_p[:r].copy_(torch.as_tensor(a, dtype=a_p.dtype))
                b_p[:, :r].copy_(torch.as_tensor(b, dtype=b_p.dtype))

    def _set_rank(self, client: int, rank: int) -> None:
        """Fix the client's rank: scaling alpha / r, and what it holds truncated to rank r."""
        c = self.clients[client]
        held = self._factors(c)
        self.ranks[client] = rank
        for m in _modules(c.model).values():
            m.scaling["default"] = self.cfg.lora_alpha / rank
        scaling = self.cfg.lora_alpha / rank
        state = {}
        for name, (b, a, s) in held.items():
            if not np.any(b):
                # Nothing learnt yet: keep the random A's first rows (an all-zero LoRA could never learn).
                b_r, a_r = np.zeros((b.shape[0], rank), np.float32), a[:rank]
            else:
                b_r, a_r = truncated_factors(mean_delta([(b, a, s)], [1.0]), rank, scaling)
            state[name + _A], state[name + _B] = a_r, b_r
        self._load(c, state)

    def upload_bits(self, client: int, rank: int) -> int:
        """Exact size of the client's upload at ``rank``: the real encoder on arrays of those shapes."""
        shapes = {}
        for name, m in _modules(self.clients[client].model).items():
            a = m.lora_A["default"].weight
            b = m.lora_B["default"].weight
            shapes[name + _A] = np.zeros((rank, a.shape[1]), np.float32)
            shapes[name + _B] = np.zeros((b.shape[0], rank), np.float32)
        return 8 * len(encode_arrays(shapes, self.cfg.value_precision))

    # ------------------------------------------------------------------ the seam

    def broadcast(self, round_index: int) -> Payload:
        return Payload(0)  # every client downloads its own rank's factors (downlink)

    def downlink(self, client: int, round_index: int) -> Payload:
        return self.down.get(client, Payload(0))

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        c, cfg = self.clients[client], self.cfg
        if client in self.held:
            self._load(c, self.held[client])
        if self.ranks[client] is None:
            bits = {r: self.upload_bits(client, r) for r in cfg.flex_ranks}
            self._set_rank(client, choose_rank(cfg.flex_ranks, bits, budget.max_bits, cfg.flex_budget_share))
        if self.upload_bits(client, self.rank(client)) > budget.max_bits:
            return None  # its rank's upload cannot arrive before the deadline: skip rather than waste airtime
        self.train_private(c)
        data = encode_arrays(self._state(c), cfg.value_precision)
        return Payload(8 * len(data), content=data, meta={"lora_rank": float(self.rank(client))})

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        groups: dict[str, list[tuple[int, dict[str, np.ndarray]]]] = {}
        for client, p in payloads.items():
            groups.setdefault(self.clients[client].shape, []).append((client, decode_arrays(p.content)))
        alpha = self.cfg.lora_alpha
        for shape, items in groups.items():
            weights = [float(self.clients[i].ids.shape[0]) for i, _ in items]
            prefixes = sorted({n[: -len(_A)] for n in items[0][1] if n.endswith(_A)})
            self.global_delta[shape] = {
                pre: mean_delta([(s[pre + _B], s[pre + _A], alpha / s[pre + _A].shape[0]) for _, s in items], weights)
                for pre in prefixes
            }
        if not groups:
            return
        # Each client of an updated shape downloads the mean truncated to its own rank.
        for c in self.clients:
            if c.shape not in groups:
                continue
            r = self.rank(c.index)
            state = {}
            for pre, delta in self.global_delta[c.shape].items():
                state[pre + _B], state[pre + _A] = truncated_factors(delta, r, alpha / r)
            data = encode_arrays(state, self.cfg.value_precision)
            self.down[c.index] = Payload(8 * len(data), content=data)
            self.held[c.index] = decode_arrays(data)  # clients use what they decode

    def client_storage_bytes(self, client: int) -> int:
        """The model as a rank-r client holds it: the slots past its rank are not stored."""
        unused = 0
        r = self.rank(client)
        for m in _modules(self.clients[client].model).values():
            a, b = m.lora_A["default"].weight, m.lora_B["default"].weight
            unused += (self.slot - r) * (a.shape[1] * a.element_size() + b.shape[0] * b.element_size())
        return super().client_storage_bytes(client) - unused

    def evaluate(self, round_index: int) -> dict[str, float]:
        # Each client's model as it runs after its next download: the mean truncated to its rank.
        for i, state in self.held.items():
            self._load(self.clients[i], state)
        chosen = [r for r in self.ranks if r is not None]
        return {**super().evaluate(round_index), "eval_mean_rank": float(np.mean(chosen)) if chosen else float("nan")}

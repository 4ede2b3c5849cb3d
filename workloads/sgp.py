"""Similarity group pruning (SGP): cut a causal LM down to a sub-LLM by dropping redundant layers.

A layer whose output hidden state is nearly its input barely changes the
residual stream (ShortGPT's block influence, Men et al. 2024, is one minus
this cosine similarity).  SGP measures, on public sequences, the similarity
of each layer's input and output (linear CKA, Kornblith et al. 2019, or mean
token cosine), groups contiguous layers whose transitions are similar, and
keeps one representative per group: the layer that opens it, whose output
the group's near-identity followers only retouch.  Dropping contiguous runs
rather than scattered layers follows LLM-Streamline (Chen et al. 2024).

The first and last ``adapter_layers`` layers are always kept: they hold the
trainable adapters (Offsite-tuning, Xiao et al. 2023; FedBiOT, Wu et al.
2024); the kept middle layers form the "emulator".  Which middle layers open
a group is chosen either by count (the ``keep`` least similar transitions)
or by a threshold (every transition below it).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["linear_cka", "mean_cosine", "layer_similarities", "select_layers", "Pruning", "decoder_layers", "prune_layers"]


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two [n, d] representations (Kornblith et al. 2019, eq. 5), in float64."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    denom = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / denom) if denom > 0 else 1.0


def mean_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """Mean over rows of the cosine between matching rows of two [n, d] arrays."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    num = np.sum(x * y, axis=1)
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return float(np.mean(np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)))


_SIMILARITY = {"cka": linear_cka, "cosine": mean_cosine}


def decoder_layers(model: Any) -> torch.nn.ModuleList:
    """The transformer blocks of a Llama/Qwen2 (``model.layers``) or GPT-2 (``transformer.h``) causal LM."""
    inner = getattr(model, "model", None)
    if inner is not None and isinstance(getattr(inner, "layers", None), torch.nn.ModuleList):
        return inner.layers
    tr = getattr(model, "transformer", None)
    if tr is not None and isinstance(getattr(tr, "h", None), torch.nn.ModuleList):
        return tr.h
    raise ValueError(f"no decoder layer list in a {type(model).__name__}")


@torch.no_grad()
def layer_similarities(model: Any, ids: torch.Tensor, measure: str = "cka", skip_positions: int = 0) -> np.ndarray:
    """[L] similarity of each layer's input and output hidden states over the tokens of ``ids`` [N, T].

    The first ``skip_positions`` positions of every sequence are left out: in
    pretrained LMs the first token carries the attention sink's massive
    activation (Sun et al. 2024), norms a hundred times the others', which
    would make both measures about that one token.
    """
    if not 0 <= skip_positions < ids.shape[1]:
        raise ValueError(f"skip_positions must be in 0..{ids.shape[1] - 1}, got {skip_positions}")
    if measure not in _SIMILARITY:
        raise ValueError(f"unknown similarity {measure!r}; known: {', '.join(_SIMILARITY)}")
    layers = decoder_layers(model)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(_m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        x = args[0] if args else kwargs["hidden_states"]
        y = out[0] if isinstance(out, tuple) else out
        x, y = x.detach()[:, skip_positions:], y.detach()[:, skip_positions:]
        seen.append((x.reshape(-1, x.shape[-1]).cpu(), y.reshape(-1, y.shape[-1]).cpu()))

    handles = [layer.register_forward_hook(hook, with_kwargs=True) for layer in layers]
    was_training = model.training
    model.eval()
    try:
        model(input_ids=ids, logits_to_keep=1)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    fn = _SIMILARITY[measure]
    return np.array([fn(x.numpy(), y.numpy()) for x, y in seen])


@dataclass(frozen=True)
class Pruning:
    """Which layers a sub-LLM keeps.

    kept : kept layer indices of the full model, increasing
    groups : contiguous runs of full-model layers, each represented by its first
    similarity : [L] input/output similarity per layer
    adapter_layers : layers kept at each end for the trainable adapters
    """

    kept: tuple[int, ...]
    groups: tuple[tuple[int, ...], ...]
    similarity: tuple[float, ...]
    adapter_layers: int

    @property
    def emulator(self) -> tuple[int, ...]:
        """Kept middle layers (full-model indices)."""
        return self.kept[self.adapter_layers : len(self.kept) - self.adapter_layers]


def select_layers(similarity: Sequence[float], adapter_layers: int, keep: int | None = None, threshold: float | None = None) -> Pruning:
    """Group layers and choose representatives; exactly one of ``keep`` (middle layers kept) or ``threshold``.

    A middle layer opens a new group when it is among the ``keep`` least
    similar middle transitions (ties to the lower index), or when its
    similarity is below ``threshold``; otherwise it joins the group before it.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    n = sim.size
    if adapter_layers < 1 or 2 * adapter_layers > n:
        raise ValueError(f"adapter_layers must be in 1..{n // 2} for a {n}-layer model, got {adapter_layers}")
    if (keep is None) == (threshold is None):
        raise ValueError("give exactly one of keep and threshold")
    middle = np.arange(adapter_layers, n - adapter_layers)
    if keep is not None:
        if not 0 <= keep <= middle.size:
            raise ValueError(f"keep must be in 0..{middle.size} middle layers, got {keep}")
        order = middle[np.lexsort((middle, sim[middle]))]
        opens = set(order[:keep].tolist())
    else:
        opens = {int(j) for j in middle if sim[j] < threshold}
    kept = sorted({*range(adapter_layers), *opens, *range(n - adapter_layers, n)})
    groups: list[list[int]] = []
    for j in range(n):
        if j in kept:
            groups.append([j])
        else:
            groups[-1].append(j)
    return Pruning(tuple(kept), tuple(tuple(g) for g in groups), tuple(float(s) for s in sim), adapter_layers)


def prune_layers(model: Any, kept: Sequence[int]) -> Any:
    """A deep copy of ``model`` with only the ``kept`` layers, its config and KV-cache indices renumbered.

    Llama and Qwen2 attention index the KV cache by ``layer_idx``; Qwen2's
    ``layer_types`` (sliding or full attention per layer) follows the kept
    layers.  GPT-2 scales attention by layer index only when
    ``scale_attn_by_inverse_layer_idx`` is set, which renumbering would
    change, so that case is refused.
    """
    kept = list(kept)
    n = len(decoder_layers(model))
    if not kept or sorted(set(kept)) != kept or kept[0] < 0 or kept[-1] >= n:
        raise ValueError(f"kept layers must be increasing indices into {n} layers, got {kept}")
    if getattr(model.config, "scale_attn_by_inverse_layer_idx", False):
        raise ValueError("cannot renumber a GPT-2 whose attention is scaled by layer index")
    sub = copy.deepcopy(model)
    old = decoder_layers(sub)
    new = torch.nn.ModuleList([old[i] for i in kept])
    for j, layer in enumerate(new):
        for m in layer.modules():
            if hasattr(m, "layer_idx") and isinstance(m.layer_idx, int):
                m.layer_idx = j
    if hasattr(sub, "model") and isinstance(getattr(sub.model, "layers", None), torch.nn.ModuleList):
        sub.model.layers = new
    else:
        sub.transformer.h = new
    cfg = sub.config  # GPT-2 maps num_hidden_layers to n_layer
    cfg.num_hidden_layers = len(kept)
    if getattr(cfg, "layer_types", None) is not None:
        cfg.layer_types = [cfg.layer_types[i] for i in kept]
    return sub

"""``fedbiot``: clients tune the adapter of a layer-dropped emulator; the server aligns the emulator to the full LLM.

FedBiOT (Wu et al., KDD 2024, arXiv 2406.17706), on the shared
adapter/emulator machinery of :mod:`workloads.offsite` (which FedSODA uses
too), with every choice its text does not fix made configurable and listed
in docs/algorithms.md:

1. Split and compression: the last ``adapter_layers`` layers (and, with
   ``biot_adapter_side: both``, the first ones too, as Offsite-tuning does)
   are the *adapter*; of the other layers the emulator keeps
   ``biot_emulator_layers``, spread uniformly (layer dropping, Offsite-tuning's
   compression), each standing for the block of dropped layers after it.
   The frozen sub-LLM is stored and downloaded once at ``biot_weight_dtype``
   (no quantisation: that is FedSODA's QLoRA step).
2. Clients train the adapter's LoRA (and the LoRA of modules outside the layer
   stack, ``lm_head`` when targeted) on the label cross-entropy plus the
   proximal term ``biot_prox`` x ||a - a_0||^2, a_0 the adapter the client
   started the round from (the one it downloaded), and upload it.
3. The server averages the adapters (weighted by private data size), plugs
   them into the full LLM and its copy of the sub-LLM, and trains the
   emulator's LoRA on public batches: ``biot_hidden_weight`` x the mean over
   emulator layers of the distance (``biot_hidden_distance``: normalised
   squared L2, or one minus the token cosine) between each emulator layer's
   output and the output of the last full layer of the block it stands for,
   plus ``biot_logit_weight`` x T^2 KL(full || sub) on the last
   ``distill_positions`` positions.  Layer-wise matching is where it differs
   from FedSODA's ODA, which matches one hidden state.

The task and the full model are built the way the other language-model
algorithms build theirs (the same split, tokenizer and pretrained tiny base on
the same seed), so fedbiot's rows pair with fedavg_lora's and the bounds'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from workloads.base import register
from workloads.fedcore import LMClient
from workloads.offsite import OffsiteLM
from workloads.quant import encode_weights
from workloads.sgp import decoder_layers
from workloads.fedbiot_config import FedBiotConfig

__all__ = ["FedBiOT", "uniform_emulator", "proximal_term"]


def uniform_emulator(
    layers: int, adapter_layers: int, emulator_layers: int, side: str = "top"
) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...], int]:
    """(kept full layers, the full layers each emulator layer stands for, first emulator layer in the sub-LLM).

    The emulator spans full layers [start, stop): start = 0 with the adapter on
    top only (``side`` top), ``adapter_layers`` with adapters at both ends;
    stop = ``layers - adapter_layers``.  Of its M layers it keeps
    floor(k M / E) + start for k = 0..E-1, each standing for itself and the
    dropped layers up to the next kept one.
    """
    if side not in ("top", "both"):
        raise ValueError(f"unknown adapter side {side!r}; known: both, top")
    start = adapter_layers if side == "both" else 0
    stop = layers - adapter_layers
    if adapter_layers < 1 or stop < start:
        raise ValueError(f"a {layers}-layer model has no room for adapter_layers={adapter_layers} ({side})")
    middle = stop - start
    if not 0 <= emulator_layers <= middle:
        raise ValueError(
            f"a {layers}-layer model with adapter_layers={adapter_layers} ({side}) has {middle} emulator layers to "
            f"choose from; biot_emulator_layers={emulator_layers} cannot be kept"
        )
    chosen = [start + (k * middle) // emulator_layers for k in range(emulator_layers)]
    bounds = [*chosen, stop]
    blocks = tuple(tuple(range(a, b)) for a, b in zip(bounds, bounds[1:]))
    kept = (*range(start), *chosen, *range(stop, layers))
    return kept, blocks, start


def proximal_term(params: Iterable[torch.Tensor], initial: Iterable[torch.Tensor], lam: float) -> torch.Tensor:
    """lam * sum_j ||p_j - p0_j||^2 over matching tensors; its gradient in p_j is 2 lam (p_j - p0_j)."""
    terms = [((p - p0) ** 2).sum() for p, p0 in zip(params, initial)]
    return lam * torch.stack(terms).sum() if terms else torch.zeros(())


@register("fedbiot", config=FedBiotConfig)
class FedBiOT(OffsiteLM):
    def __init__(self, cfg: Any, num_clients: int, seed: np.random.SeedSequence) -> None:
        if cfg.model_source == "tiny" and len(set(cfg.families)) != 1:
            raise ValueError(f"fedbiot splits one server LLM: workload.families must name one family, got {cfg.families}")
        ss = self._setup(cfg, seed)
        data_ss, model_ss, client_ss = ss.spawn(3)
        (server_ss,) = ss.spawn(1)
        full = self._fedlm_base(num_clients, data_ss, model_ss).to(self.device)
        self.server_gen = torch.Generator().manual_seed(int(server_ss.generate_state(1)[0]))

        n_full = len(decoder_layers(full))
        kept, self.blocks, start = uniform_emulator(n_full, cfg.adapter_layers, cfg.biot_emulator_layers, cfg.biot_adapter_side)
        n_emu = len(self.blocks)
        adapter_sub = {*range(start), *range(start + n_emu, len(kept))}
        # Each emulator layer's output (the input of the next sub-LLM layer) against its block's last full layer's.
        taps = [(start + k + 1, block[-1] + 1) for k, block in enumerate(self.blocks)]
        self._build_offsite(full, kept, adapter_sub, taps, cfg.biot_align_init_steps, client_ss, num_clients)

    def _encode_sub(self, sub: Any) -> bytes:
        tensors = {n: p.detach().float().numpy() for n, p in sub.named_parameters()}
        return encode_weights(tensors, set(), "none", self.cfg.biot_weight_dtype)

    def _align_settings(self) -> tuple[int, float, float, float, str]:
        cfg = self.cfg
        return cfg.biot_align_steps, cfg.biot_align_lr, cfg.biot_hidden_weight, cfg.biot_logit_weight, cfg.biot_hidden_distance

    def _local_train(self, c: LMClient) -> None:
        lam = self.cfg.biot_prox
        if lam == 0:
            self.train_private(c)
            return
        params = [p for p in c.model.parameters() if p.requires_grad]
        initial = [p.detach().clone() for p in params]
        self.train_private(c, penalty=lambda: proximal_term(params, initial, lam))

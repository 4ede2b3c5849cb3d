"""``fedsoda``: clients adapt a pruned, quantised sub-LLM; the server keeps it aligned to the full LLM.

FedSODA (arXiv 2508.12727) in three parts, with every choice its text does
not fix made configurable and documented in docs/algorithms.md:

1. Similarity group pruning (:mod:`workloads.sgp`): once, on the public set,
   the server groups contiguous similar layers of the full LLM and keeps one
   per group; the first and last ``adapter_layers`` layers are always kept.
2. Quantised clients (:mod:`workloads.quant`): each client downloads the
   frozen sub-LLM once, stored in ``quantization`` (NF4 by default, as QLoRA),
   and trains LoRA adapters on the adapter layers only (and on modules outside
   the layer stack, such as ``lm_head``).  On CPU the frozen weights are
   really quantised and dequantised, so accuracy reflects the quantisation;
   on CUDA with NF4 the layers are bitsandbytes ``Linear4bit`` (untested).
3. Orchestrated distillation alignment: after averaging the client adapters,
   the server plugs them into both the full LLM and its copy of the sub-LLM
   and trains LoRA on the emulator (the kept middle layers) so that the
   sub-LLM's hidden state entering the top adapter layers and its logits
   match the full LLM's on the public set.  Only this emulator LoRA changes,
   never the quantised emulator itself (Offsite-tuning and FedBiOT align the
   emulator; training a LoRA on it keeps the clients' frozen copy valid), so
   each round's download is the averaged adapters plus the emulator LoRA.

Evaluation plugs the averaged adapters into the full LLM (``eval_*``) and,
as a client runs them, into the sub-LLM (``eval_sub_*``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from workloads.base import register
from workloads.data import build_task
from workloads.models import ModelSpec, warm_base
from workloads.offsite import OffsiteLM, alignment_loss, layer_of, rename_layers
from workloads.quant import encode_weights
from workloads.sgp import Pruning, decoder_layers, layer_similarities, select_layers
from workloads.fedsoda_config import FedSodaConfig

__all__ = ["FedSODA", "alignment_loss", "rename_layers"]


def _quantized_names(model: Any) -> set[str]:
    """The 2-D weights inside the decoder layers: what QLoRA stores in 4 bits."""
    return {n for n, p in model.named_parameters() if p.ndim == 2 and layer_of("." + n) is not None}


def _to_bnb_nf4(model: Any, block: int, double_quant: bool) -> None:
    """Swap the decoder layers' nn.Linear for bitsandbytes NF4 ``Linear4bit`` (CUDA only; untested here)."""
    import bitsandbytes as bnb  # only on CUDA: the package needs a GPU

    for layer in decoder_layers(model):
        for parent in list(layer.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, torch.nn.Linear):
                    q = bnb.nn.Linear4bit(
                        child.in_features, child.out_features, bias=child.bias is not None,
                        compute_dtype=torch.bfloat16, quant_type="nf4", compress_statistics=double_quant,
                    )
                    q.weight = bnb.nn.Params4bit(
                        child.weight.data.cpu(), requires_grad=False, quant_type="nf4", blocksize=block,
                        compress_statistics=double_quant,
                    )
                    if child.bias is not None:
                        q.bias = torch.nn.Parameter(child.bias.data.clone(), requires_grad=False)
                    setattr(parent, name, q)


@register("fedsoda", config=FedSodaConfig)
class FedSODA(OffsiteLM):
    def __init__(self, cfg: Any, num_clients: int, seed: np.random.SeedSequence) -> None:
        # FedLM.__init__ would give every client the full model; the task is
        # rebuilt from the same seed branches instead.
        if cfg.model_source == "tiny" and len(set(cfg.families)) != 1:
            raise ValueError(f"fedsoda prunes one server LLM: workload.families must name one family, got {cfg.families}")
        ss = self._setup(cfg, seed)
        data_ss, model_ss, client_ss = ss.spawn(3)
        (server_ss,) = ss.spawn(1)
        tokenizer = pretrained = None
        if cfg.model_source == "smollm2":
            from workloads.pretrained import shared_copy, shared_pretrained

            tokenizer, frozen = shared_pretrained("smollm2")  # loaded once per process
            pretrained = shared_copy(frozen)  # wrapped with LoRA below: the shared tree stays unwrapped
        self.task = build_task(
            cfg.corpus, num_clients, vocab_size=cfg.vocab_size, text_tokens=cfg.text_tokens,
            public_size=cfg.public_size, test_size=cfg.test_size, pretrain_size=cfg.pretrain_size, alpha=cfg.dirichlet_alpha,
            max_private=cfg.private_max, rng=np.random.default_rng(data_ss), tokenizer=tokenizer,
        )
        self.vocab = self.task.vocab_size
        self.public = torch.as_tensor(self.task.public_ids[:, :-1], device=self.device)
        self.test = torch.as_tensor(self.task.test_ids, device=self.device)
        self.label_ids = torch.as_tensor(self.task.label_token_ids, device=self.device)
        if pretrained is not None:
            self.family, full = "llama", pretrained
        else:
            self.family = cfg.families[0]
            spec = ModelSpec(self.family, self.vocab, cfg.hidden_size, cfg.layers, cfg.heads, int(self.task.public_ids.shape[1]))
            full = warm_base(spec, self.task.pretrain_ids, cfg.warmup_steps, cfg.batch_size, cfg.warmup_lr,
                             int(model_ss.generate_state(1)[0]))
        full = full.to(self.device)
        self.server_gen = torch.Generator().manual_seed(int(server_ss.generate_state(1)[0]))

        # 1. SGP on the public set.
        sim = layer_similarities(full, self.public, cfg.sgp_similarity, cfg.sgp_skip_positions)
        middle = sim.size - 2 * cfg.adapter_layers
        if middle < 0 or (cfg.sgp_select == "count" and cfg.sgp_emulator_layers > middle):
            raise ValueError(
                f"a {sim.size}-layer model with adapter_layers={cfg.adapter_layers} has {max(middle, 0)} middle layers; "
                f"sgp_emulator_layers={cfg.sgp_emulator_layers} cannot be kept"
            )
        if cfg.sgp_select == "count":
            self.pruning: Pruning = select_layers(sim, cfg.adapter_layers, keep=cfg.sgp_emulator_layers)
        else:
            self.pruning = select_layers(sim, cfg.adapter_layers, threshold=cfg.sgp_threshold)
        kept = self.pruning.kept
        n_sub, n_full = len(kept), sim.size
        adapter_sub = {*range(cfg.adapter_layers), *range(n_sub - cfg.adapter_layers, n_sub)}
        # 2.-4. The quantised sub-LLM, its clients and ODA: the hidden state entering the top adapter layers.
        taps = [(n_sub - cfg.adapter_layers, n_full - cfg.adapter_layers)]
        self._build_offsite(full, kept, adapter_sub, taps, cfg.oda_init_steps, client_ss, num_clients)

    def _encode_sub(self, sub: Any) -> bytes:
        cfg = self.cfg
        tensors = {n: p.detach().float().numpy() for n, p in sub.named_parameters()}
        return encode_weights(tensors, _quantized_names(sub), cfg.quantization, cfg.quant_other_dtype, cfg.quant_block,
                              cfg.quant_double)

    def _finish_sub(self, sub: Any) -> None:
        if self.device.type == "cuda" and self.cfg.quantization == "nf4":
            _to_bnb_nf4(sub, self.cfg.quant_block, self.cfg.quant_double)

    def _align_settings(self) -> tuple[int, float, float, float, str]:
        cfg = self.cfg
        return cfg.oda_steps, cfg.oda_lr, cfg.oda_hidden_weight, cfg.oda_logit_weight, "l2"

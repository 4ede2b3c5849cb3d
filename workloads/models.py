"""Tiny causal LMs built from config (pretrained by :mod:`workloads.tinybase`), wrapped with PEFT LoRA.

Families share one tokenizer, so their logits live on the same vocabulary and
can be exchanged without any token alignment (clients given different
vocabularies by ``workload.client_models`` go through :mod:`workloads.align`).  Random init is drawn under a
forked, explicitly seeded torch RNG (transformers' initialisers draw from the
global generator); everything after that draws from generators passed in.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["FAMILIES", "ModelSpec", "build_base", "warm_base", "warm_up", "add_lora", "init_lora", "lora_state", "load_lora_state", "HiddenTap",
           "lora_layer_indices", "layer_index"]

FAMILIES = ("llama", "qwen2", "gpt2")
# LoRA targets are given with Llama names; GPT-2 fuses q, k, v into one Conv1D.
_GPT2_TARGETS = {"q_proj": "c_attn", "k_proj": "c_attn", "v_proj": "c_attn", "o_proj": "c_proj", "embed_tokens": "wte"}


@dataclass(frozen=True)
class ModelSpec:
    family: str
    vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    max_len: int


def _config(spec: ModelSpec) -> Any:
    from transformers import GPT2Config, LlamaConfig, Qwen2Config

    common = dict(vocab_size=spec.vocab_size, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    if spec.family == "gpt2":
        return GPT2Config(
            n_embd=spec.hidden_size, n_layer=spec.layers, n_head=spec.heads, n_positions=spec.max_len,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **common,
        )
    cls = LlamaConfig if spec.family == "llama" else Qwen2Config
    return cls(
        hidden_size=spec.hidden_size, intermediate_size=2 * spec.hidden_size, num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads, num_key_value_heads=spec.heads, max_position_embeddings=spec.max_len,
        attention_dropout=0.0, **common,
    )


def build_base(spec: ModelSpec, seed: int) -> torch.nn.Module:
    """A randomly initialised model, the same for the same (spec, seed) whatever the global RNG state."""
    from transformers import AutoModelForCausalLM

    if spec.family not in FAMILIES:
        raise ValueError(f"unknown model family {spec.family!r}; known: {', '.join(FAMILIES)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(_config(spec), attn_implementation="eager")
    return model


_WARM: dict[tuple[Any, ...], dict[str, torch.Tensor]] = {}


def warm_base(spec: ModelSpec, ids: np.ndarray, steps: int, batch: int, lr: float, seed: int) -> torch.nn.Module:
    """Build a random base and :func:`warm_up` it; cached per process by its arguments."""
    key = (spec, steps, batch, lr, seed, ids.shape, hash(ids.tobytes()))
    model = build_base(spec, seed)
    if key in _WARM:
        model.load_state_dict(_WARM[key])
        return model
    warm_up(model, ids, steps, batch, lr, seed)
    _WARM[key] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return model


def warm_up(model: torch.nn.Module, ids: np.ndarray, steps: int, batch: int, lr: float, seed: int) -> None:
    """Fully train ``model`` in place for ``steps`` steps on ``ids`` [N, L] (a held-out labelled split).

    The optional labelled warm-up (``workload.warmup_steps``, off by default):
    the loss is the LM loss plus the cross-entropy of the label token (the
    last one), the way an instruction-tuned base knows the task before
    fine-tuning.  It gives the base label knowledge, so a comparison of
    algorithms on a warmed base measures less of what federation adds.
    """
    if steps <= 0 or ids.shape[0] == 0:
        return
    gen = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(ids)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        x = data[torch.randint(0, data.shape[0], (min(batch, data.shape[0]),), generator=gen)]
        out = model(input_ids=x, labels=x)
        loss = out.loss + torch.nn.functional.cross_entropy(out.logits[:, -2, :].float(), x[:, -1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def lora_layer_indices(lora_layers: Any, depth: int) -> list[int] | None:
    """``workload.lora_layers`` ({top: N}, a list of indices, or None) as sorted layer indices; None = every layer."""
    if lora_layers is None:
        return None
    top = getattr(lora_layers, "top", None)
    if top is None and isinstance(lora_layers, dict):
        top = lora_layers.get("top")
    chosen = list(range(depth - int(top), depth)) if top is not None else sorted({int(i) for i in lora_layers})
    if not chosen or chosen[0] < 0 or chosen[-1] >= depth:
        raise ValueError(f"lora_layers {lora_layers!r} lies outside a {depth}-layer model")
    return chosen


def add_lora(model: torch.nn.Module, family: str, rank: int, alpha: float, targets: Sequence[str], gen: torch.Generator,
             layers: Sequence[int] | None = None) -> Any:
    """Wrap with PEFT LoRA on ``targets`` (Llama names) and redraw A from ``gen`` (B starts at 0).

    layers : transformer layers whose target modules get LoRA (None = all); modules outside the layer
        stack (lm_head, embed_tokens) are wrapped either way.  PEFT's ``layers_to_transform`` would drop
        those, so the chosen modules are named one by one.
    """
    from peft import LoraConfig, get_peft_model

    names = sorted({_GPT2_TARGETS.get(t, t) for t in targets}) if family == "gpt2" else list(targets)
    present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [n for n in names if n not in present]
    if missing:
        # PEFT passes silently when only some names match; fedwave refuses.
        raise ValueError(f"LoRA targets {missing} not found in a {family} model")
    target_modules: list[str] = names
    if layers is not None:
        keep = set(layers)
        target_modules = [
            n for n, _ in model.named_modules()
            if n.rsplit(".", 1)[-1] in names and (not _has_layer(n) or _layer_index(n) in keep)
        ]
    cfg = LoraConfig(r=rank, lora_alpha=alpha, target_modules=target_modules, lora_dropout=0.0, fan_in_fan_out=family == "gpt2")
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():  # PEFT's own init draws from the global RNG
        # PEFT 0.21 asks transformers 5 through a deprecated name; the user should not see that on every run.
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        # A tied model's LM-head LoRA is meant as a delta on the head alone (the frozen weight stays tied to the
        # embedding); PEFT warns about it on every wrap of SmolLM2 or Gemma3.
        warnings.filterwarnings("ignore", message="Model has `tie_word_embeddings=True`", category=UserWarning)
        peft_model = get_peft_model(model, cfg)
    init_lora(peft_model, gen)
    return peft_model


def init_lora(peft_model: Any, gen: torch.Generator) -> None:
    """Draw every LoRA A from ``gen`` and set every B to 0 (a copy of a wrapped model gets its own init).

    An embedding's LoRA is the other way round, as PEFT initialises it: A
    [r, vocab] starts at 0 and B [hidden, r] is drawn from N(0, 1), so each
    token's trainable r-vector starts at zero while the gradient still reaches it.
    """
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_embedding_A" in name:
                p.zero_()
            elif "lora_embedding_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            elif "lora_A" in name:
                # PEFT's default (kaiming_uniform, a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
                bound = 1.0 / np.sqrt(p.shape[1])
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
            elif "lora_B" in name:
                p.zero_()


def lora_state(model: Any) -> dict[str, np.ndarray]:
    return {n: p.detach().cpu().float().numpy().copy() for n, p in model.named_parameters() if "lora_" in n}


def load_lora_state(model: Any, state: dict[str, np.ndarray]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, a in state.items():
            params[n].copy_(torch.as_tensor(a, dtype=params[n].dtype))


class HiddenTap:
    """Records the output of one LoRA down-projection (A, rank r): the shared hidden representation h."""

    def __init__(self, model: Any, layer: int) -> None:
        modules = [(n, m) for n, m in model.named_modules() if n.endswith("lora_A.default") and _has_layer(n)]
        if not modules:
            raise ValueError("no LoRA module inside a transformer layer to share a hidden projection from")
        layers = sorted({_layer_index(n) for n, _ in modules})
        depth = int(model.config.num_hidden_layers)
        chosen = list(range(depth))[layer]  # a model layer, python indexing: -1 is the last layer
        if chosen not in layers:
            raise ValueError(f"hidden_layer {layer} (layer {chosen}) carries no LoRA (LoRA layers: {layers})")
        self.name, module = next((n, m) for n, m in modules if _layer_index(n) == chosen)
        self.out: torch.Tensor | None = None
        module.register_forward_hook(self._hook)

    def _hook(self, _module: Any, _inputs: Any, output: torch.Tensor) -> None:
        self.out = output


def _has_layer(name: str) -> bool:
    try:
        _layer_index(name)
    except ValueError:
        return False
    return True


def layer_index(name: str) -> int | None:
    """The transformer layer a module or parameter name lies in; None outside the layer stack."""
    return _layer_index(name) if _has_layer(name) else None


def _layer_index(name: str) -> int:
    parts = name.split(".")
    for a, b in zip(parts, parts[1:]):
        if a in ("layers", "h") and b.isdigit():
            return int(b)
    raise ValueError(f"no layer index in module name {name!r}")

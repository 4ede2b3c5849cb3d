"""Workload values the schema accepts but a language-model run would crash on, found before it starts.

Each check returns ``(loc, problem)`` like the other cross-section checks of
:mod:`sim.scenario`: a hidden layer past the model, LoRA targets the model
lacks, ``lora_layers`` past the model or on an algorithm that places its own
adapters, splits larger than the corpus, ``k_min`` past the vocabulary, and an
attention/logit memory estimate beyond the machine's memory.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.schema import Scenario

__all__ = ["SMOLLM2_LAYERS", "workload_problem"]

SMOLLM2_LAYERS = 30  # SmolLM2-135M-Instruct, what fedsoda prunes when model_source is smollm2


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Shapes of the pretrained models (their config.json): layers, heads, vocabulary.
_PRETRAINED = {"smollm2": (SMOLLM2_LAYERS, 9, 49_152), "gemma3_270m": (18, 4, 262_144)}
_LLAMA_TARGETS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head", "embed_tokens"}
_GPT2_TARGETS = {"q_proj", "k_proj", "v_proj", "o_proj", "lm_head", "embed_tokens", "c_attn", "c_proj", "c_fc", "wte"}
_CORPUS_SIZES: dict[str, int] = {}


def _corpus_size(name: str) -> int:
    if name not in _CORPUS_SIZES:
        from workloads.data import load_corpus  # text files only; no torch

        _CORPUS_SIZES[name] = len(load_corpus(name).texts)
    return _CORPUS_SIZES[name]


def _physical_memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


_OWN_ADAPTER_PLACEMENT = ("fedsoda", "fedbiot")  # adapter_layers places their LoRA


def _chosen_layers(lora_layers: Any, layers: int) -> list[int]:
    top = getattr(lora_layers, "top", None)
    return list(range(layers - top, layers)) if top is not None else sorted(set(lora_layers))


def _lora_layers_problem(wl: Any, models: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], str] | None:
    if wl.algorithm in _OWN_ADAPTER_PLACEMENT:
        return ("workload", "lora_layers"), (
            f"{wl.algorithm} places its adapters with adapter_layers; lora_layers applies to the algorithms that "
            "train LoRA on the whole model"
        )
    for source, _, layers, _, _ in models:
        top = getattr(wl.lora_layers, "top", None)
        if top is not None and top > layers:
            return ("workload", "lora_layers", "top"), f"{top} is more than the {source} model's {layers} layers"
        if top is None:
            for i, index in enumerate(wl.lora_layers):
                if index >= layers:
                    return ("workload", "lora_layers", i), (
                        f"layer {index} is past the {source} model's {layers} layers (0 to {layers - 1})"
                    )
    return None


def workload_problem(scn: Scenario) -> tuple[tuple[Any, ...], str] | None:
    """What a language-model run would crash on after minutes of work, found before it starts."""
    wl = scn.workload
    if wl.algorithm == "none":
        return None
    models = []  # (source, family, layers, heads, vocab) of each distinct client model
    for cm in wl.client_models or [None]:  # type: ignore[list-item]
        source = (cm.source if cm else None) or wl.model_source
        if source in _PRETRAINED:
            layers, heads, vocab = _PRETRAINED[source]
            families = ["llama"]
        else:
            layers = (cm.layers if cm else None) or wl.layers
            heads = (cm.heads if cm else None) or wl.heads
            vocab = (cm.vocab_size if cm else None) or wl.vocab_size
            families = [cm.family] if cm and cm.family else list(wl.families)
        models += [(source, f, layers, heads, vocab) for f in families]
    for _, family, _, _, _ in models:
        allowed = _GPT2_TARGETS if family == "gpt2" else _LLAMA_TARGETS
        for i, target in enumerate(wl.lora_targets):
            if target not in allowed:
                return ("workload", "lora_targets", i), (
                    f"{_short(target)!r} is not a module of a {family} model (known: {', '.join(sorted(allowed))})"
                )
    if wl.lora_layers is not None:
        problem = _lora_layers_problem(wl, models)
        if problem is not None:
            return problem
    if wl.algorithm == "adaptive_topk":
        for source, _, layers, _, vocab in models:
            if wl.hidden_weight > 0 and not -layers <= wl.hidden_layer < layers:
                return ("workload", "hidden_layer"), f"{wl.hidden_layer} is outside the {source} model's {layers} layers"
            if wl.hidden_weight > 0 and wl.lora_layers is not None:
                chosen = _chosen_layers(wl.lora_layers, layers)
                if range(layers)[wl.hidden_layer] not in chosen:
                    return ("workload", "hidden_layer"), (
                        f"{wl.hidden_layer} is layer {range(layers)[wl.hidden_layer]} of the {source} model, which "
                        f"carries no LoRA (lora_layers: {chosen})"
                    )
            if wl.k_min > vocab:
                return ("workload", "k_min"), f"{wl.k_min} is larger than the {source} model's vocabulary of {vocab}"
    size = _corpus_size(wl.corpus)
    need = wl.public_size + wl.test_size + wl.pretrain_size + scn.clients.count
    if need > size:
        return ("workload", "test_size" if wl.test_size >= wl.public_size else "public_size"), (
            f"public_size + test_size + pretrain_size + one example per client = {need} exceeds the "
            f"{wl.corpus} corpus of {size} examples"
        )
    # Eager attention holds [sequences, heads, T, T] floats per layer: the test set in one forward,
    # a training batch for every layer (backward), beside its [batch, T, vocab] logits.
    seq = wl.text_tokens + 4
    heads = max(m[3] for m in models)
    layers = max(m[2] for m in models)
    vocab = max(m[4] for m in models)
    eval_bytes = 2 * 4 * max(wl.test_size, wl.public_size) * heads * seq * seq
    train_bytes = 2 * 4 * wl.batch_size * seq * (heads * seq * layers + vocab)
    estimate = max(eval_bytes, train_bytes)
    memory = _physical_memory_bytes()
    if memory is not None and estimate > memory:
        return ("workload", "text_tokens"), (
            f"{wl.text_tokens} tokens need about {estimate / 2**30:.0f} GiB for attention and logits (test_size="
            f"{wl.test_size}, batch_size={wl.batch_size}) but this machine has {memory / 2**30:.0f} GiB; "
            "lower text_tokens, test_size or batch_size"
        )
    return None

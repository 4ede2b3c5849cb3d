"""What the four language-model algorithms share: the task, the clients, training, evaluation.

A :class:`FedLM` holds one LoRA-wrapped model per client (its family cycles
through ``workload.families``, its size through ``workload.client_models``),
the tokenised task and every generator.
Algorithms subclass it and fill in the four seam methods that differ.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workloads.align import VocabMap, align_positions, normalise_piece, vocab_map
from workloads.base import Algorithm, Payload
from workloads.data import (
    Corpus, CorpusSplit, TextTask, TokenView, bpe_view, encode_task, hf_view, load_corpus, split_corpus,
)
from workloads.models import ModelSpec, add_lora, build_base, init_lora, lora_layer_indices, warm_up
from workloads.prefix import prefix_hidden, tail, trainable_floor, weights_fingerprint

__all__ = ["FedLM", "LMClient", "TaskView", "classification_metrics", "pick_device", "pick_precision", "tiny_spec_args"]


def tiny_spec_args(cfg: Any, client: int) -> tuple[str, int, int, int]:
    """(family, hidden_size, layers, heads) of a tiny client: its ``client_models`` entry (cycled),
    each unset key taken from the workload level, the family from ``families`` (cycled)."""
    entry = cfg.client_models[client % len(cfg.client_models)] if cfg.client_models else None

    def pick(key: str) -> Any:
        value = getattr(entry, key) if entry is not None else None
        return getattr(cfg, key) if value is None else value

    family = entry.family if entry is not None and entry.family is not None else cfg.families[client % len(cfg.families)]
    return family, pick("hidden_size"), pick("layers"), pick("heads")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("workload.device is cuda but no CUDA device is available")
    return torch.device(name)


def pick_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of forward passes, None for plain fp32.

    auto is bf16 on a CUDA device that supports it (the fast path of current
    GPUs) and fp32 elsewhere; bf16 also runs on CPU, which is how the path is
    tested without a GPU.  Parameters, adapters and optimiser state stay fp32
    either way (mixed precision), and every loss is taken in fp32.
    """
    bf16_ok = device.type != "cuda" or torch.cuda.is_bf16_supported()
    if name == "fp32":
        return None
    if name == "bf16":
        if not bf16_ok:
            raise ValueError("workload.precision is bf16 but this GPU does not support bf16")
        return torch.bfloat16
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" and bf16_ok else None
    raise ValueError(f"unknown workload.precision {name!r}; known: auto, bf16, fp32")


def classification_metrics(pred: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[float, float]:
    """(accuracy, macro-F1); a class absent from both ``pred`` and ``y`` is left out of the macro mean."""
    acc = float(np.mean(pred == y)) if y.size else float("nan")
    f1s = []
    for c in range(num_classes):
        tp = np.sum((pred == c) & (y == c))
        fp, fn = np.sum((pred == c) & (y != c)), np.sum((pred != c) & (y == c))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return acc, float(np.mean(f1s)) if f1s else float("nan")


@dataclass
class LMClient:
    index: int
    family: str
    model: Any  # a PEFT model
    ids: torch.Tensor  # [N, L] private sequences
    gen: torch.Generator  # batch sampling
    opt: torch.optim.Optimizer
    params: int  # all model parameters (frozen ones still cost compute)
    shape: str  # clients with the same shape key have adapters of identical shapes
    view: str = ""  # key of the client's tokenizer in FedLM.views
    prefix: Prefix | None = None  # the frozen-prefix cache, when the trainable layers allow one


@dataclass
class Prefix:
    """States entering ``layer`` (the lowest trainable one), fixed while the client trains.

    private : [N, L-1, H] for the client's ``ids[:, :-1]``
    public, test : [P, L-1, H] for its view's public sequences and test inputs
    tail_params : parameters from ``layer`` up (layers, final norm, LM head, adapters)
    prefix_params : the rest (embeddings, layers below ``layer``)
    """

    layer: int
    private: torch.Tensor
    public: torch.Tensor
    test: torch.Tensor
    tail_params: int
    prefix_params: int


@dataclass
class TaskView:
    """The task as one tokenizer sees it, and where its public positions sit in the exchange.

    rows, cols : [P] the exchanged positions in ``public`` (the same P, in the
        same order, for every tokenizer)
    vmap : the map into the anchor vocabulary; None for the anchor itself
    """

    task: TextTask
    tokens: TokenView
    public: torch.Tensor  # [N, L] public sequences without their labels
    test: torch.Tensor
    label_ids: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    vmap: VocabMap | None


def _source(cfg: Any, client: int) -> str:
    entry = cfg.client_models[client % len(cfg.client_models)] if cfg.client_models else None
    return entry.source if entry is not None and entry.source is not None else cfg.model_source


def _tokenizer_key(cfg: Any, client: int) -> str:
    source = _source(cfg, client)
    if source != "tiny":
        return source
    entry = cfg.client_models[client % len(cfg.client_models)] if cfg.client_models else None
    vocab = entry.vocab_size if entry is not None and entry.vocab_size is not None else cfg.vocab_size
    return f"tiny-v{vocab}"


class FedLM(Algorithm):
    """Shared state and steps; subclasses implement broadcast/local_update/aggregate.

    Clients whose tokenizers differ (``views`` has more than one entry) exchange
    logits through :mod:`workloads.align`: client 0's tokenizer is the anchor,
    ``vocab`` is its vocabulary, and every public position is one the
    tokenizers share by text.
    """

    uses_public = True

    def _setup(self, cfg: Any, seed: np.random.SeedSequence) -> np.random.SeedSequence:
        """Device, precision and threads; returns ``seed``, the workload's branch of the run's seed tree.

        Subclasses that build their clients differently call this too, and
        spawn from the branch in the same order, so every algorithm sees the
        same data on the same seed.
        """
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        self.amp_dtype = pick_precision(cfg.precision, self.device)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        return seed

    def __init__(self, cfg: Any, num_clients: int, seed: np.random.SeedSequence) -> None:
        data_ss, model_ss, client_ss = self._setup(cfg, seed).spawn(3)
        data = load_corpus(cfg.corpus)
        tiny = _source(cfg, 0) == "tiny"  # the scenario refuses tiny and pretrained sources in one run
        split = split_corpus(
            data, num_clients, public_size=cfg.public_size, test_size=cfg.test_size,
            pretrain_size=cfg.pretrain_size if cfg.warmup_steps > 0 else 0, alpha=cfg.dirichlet_alpha,
            max_private=cfg.private_max, rng=np.random.default_rng(data_ss), base_size=cfg.base_articles if tiny else 0,
        )
        keys = [_tokenizer_key(cfg, i) for i in range(num_clients)]
        tokens: dict[str, TokenView] = {}
        pretrained: dict[str, torch.nn.Module] = {}
        for key in dict.fromkeys(keys):  # first-use order: client 0's tokenizer first
            if key.startswith("tiny-v"):
                tokens[key] = bpe_view(data, split, int(key[len("tiny-v") :]))
            else:
                from workloads.pretrained import shared_pretrained

                tokenizer, pretrained[key] = shared_pretrained(key)  # loaded once per process
                tokens[key] = hf_view(tokenizer, data.label_names)
        anchor = keys[0]
        tasks = {k: encode_task(data, split, v, cfg.text_tokens, None if k == anchor else tokens[anchor]) for k, v in tokens.items()}
        self.views = self._views(tasks, tokens, anchor)
        self.task: TextTask = tasks[anchor]
        self.vocab = self.task.vocab_size
        model_seed = int(model_ss.generate_state(1)[0])
        self.public = self.views[anchor].public
        self.test = self.views[anchor].test
        self.label_ids = self.views[anchor].label_ids
        self.clients: list[LMClient] = []
        bases: dict[ModelSpec, torch.nn.Module] = {}
        wrapped: dict[tuple[ModelSpec, str], Any] = {}  # wrapping is slow (PEFT); clients of one spec copy one
        for i, css in enumerate(client_ss.spawn(num_clients)):
            key = keys[i]
            task = tasks[key]
            if key in pretrained:
                from workloads.pretrained import SOURCES, shared_copy

                family, shape = SOURCES[key][0], key
                base = shared_copy(pretrained[key])  # the frozen weights stay one copy; only adapters are per client
                depth = int(base.config.num_hidden_layers)
            else:
                family, hidden, layers, heads = tiny_spec_args(cfg, i)
                # The vocabulary sizes the embedding and LM head, so it is part of the shape once it varies.
                shape = f"{family}-h{hidden}-l{layers}-a{heads}" + (f"-v{task.vocab_size}" if len(tokens) > 1 else "")
                seq = int(task.public_ids.shape[1])
                spec = ModelSpec(family, task.vocab_size, hidden, layers, heads, seq)
                # Same spec, same base: such clients differ only in data and LoRA init.
                if spec not in bases:
                    bases[spec] = self._tiny_base(spec, data, split, tokens[key], task, model_seed)
                base = bases[spec]
                depth = layers
            lora_layers = lora_layer_indices(getattr(cfg, "lora_layers", None), depth)
            gen = torch.Generator().manual_seed(int(css.generate_state(1)[0]))
            if key in pretrained:
                model = add_lora(base, family, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets, gen, lora_layers).to(self.device)
            else:
                if (spec, family) not in wrapped:
                    wrapped[(spec, family)] = add_lora(copy.deepcopy(base), family, cfg.lora_rank, cfg.lora_alpha,
                                                       cfg.lora_targets, torch.Generator().manual_seed(0), lora_layers)
                model = copy.deepcopy(wrapped[(spec, family)])
                init_lora(model, gen)
                model = model.to(self.device)
            trainable = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)
            ids = torch.as_tensor(task.client_ids[i], device=self.device)
            self.clients.append(LMClient(i, family, model, ids, gen, opt, sum(p.numel() for p in model.parameters()), shape, key))
        self._prefix_memo: dict[tuple[Any, ...], Any] = {}
        self._prefix_paid: set[int] = set()  # clients already charged their one-time prefix forward
        for c in self.clients:
            self.attach_prefix(c)

    def _tiny_base(self, spec: ModelSpec, data: Corpus, split: CorpusSplit, view: TokenView, task: TextTask,
                   model_seed: int) -> torch.nn.Module:
        """The pretrained base of ``spec`` (random with ``base_steps: 0``), then the optional labelled warm-up."""
        cfg = self.cfg
        if cfg.base_steps > 0:
            from workloads.tinybase import pretrained_base

            texts = [data.texts[i] for i in split.base]
            model = pretrained_base(spec, view.serialised, texts, lambda t: view.encode(t)[0], steps=cfg.base_steps,
                                    batch=cfg.base_batch, lr=cfg.base_lr, seed=cfg.base_seed)
        else:
            model = build_base(spec, model_seed)
        warm_up(model, task.pretrain_ids, cfg.warmup_steps, cfg.batch_size, cfg.warmup_lr, model_seed)
        return model

    def _views(self, tasks: dict[str, TextTask], tokens: dict[str, TokenView], anchor: str) -> dict[str, TaskView]:
        dp = self.cfg.distill_positions
        if len(tasks) == 1:
            # One tokenizer: the last dp positions of every public sequence, row by row.
            n, width = tasks[anchor].public_dist.shape
            dp = min(dp, width)  # a sequence has no more positions than its length
            grid = [(np.repeat(np.arange(n), dp), np.tile(np.arange(width - dp, width), n))]
        else:
            grid = align_positions([tasks[k].public_dist for k in tasks], dp)
            if grid[0][0].size == 0:
                raise ValueError("the tokenizers share no public position to distil")
        anchor_keys = [normalise_piece(p, tokens[anchor].scheme) for p in tokens[anchor].pieces] if len(tasks) > 1 else []
        out = {}
        for (key, task), (rows, cols) in zip(tasks.items(), grid):
            vmap = None
            if key != anchor:
                vmap = vocab_map([normalise_piece(p, tokens[key].scheme) for p in tokens[key].pieces], anchor_keys)
            dev = self.device
            out[key] = TaskView(
                task, tokens[key], torch.as_tensor(task.public_ids[:, :-1], device=dev), torch.as_tensor(task.test_ids, device=dev),
                torch.as_tensor(task.label_token_ids, device=dev), torch.as_tensor(rows, device=dev),
                torch.as_tensor(cols, device=dev), vmap,
            )
        return out

    # ------------------------------------------------------------------ prefix cache

    def attach_prefix(self, c: LMClient) -> None:
        """Give ``c`` its frozen-prefix cache when ``workload.prefix_cache`` is auto and its trainable layers allow one."""
        if getattr(self.cfg, "prefix_cache", "off") != "auto":
            return
        layer = trainable_floor(c.model)
        if layer is None:
            return
        memo = self._prefix_memo
        fp_key = ("weights", c.shape, layer)
        if fp_key not in memo:  # clients of one shape share one frozen base
            memo[fp_key] = weights_fingerprint(c.model, layer)
        fingerprint = memo[fp_key]

        def states(kind: str, owner: Any, ids: torch.Tensor) -> torch.Tensor:
            key = (kind, fingerprint, layer, id(owner))
            if key not in memo:  # the owner is held too, so its id() is not reused
                memo[key] = (prefix_hidden(c.model, ids, layer, fingerprint, self.autocast, self.amp_dtype), owner)
            return memo[key][0]

        tv = self.views[c.view]  # one tokenizer, one base: the public and test states are shared by such clients
        # The LM head counts in the tail even when tied to the embedding: its matmul runs there.
        tail_params = sum(p.numel() for n, p in c.model.named_parameters(remove_duplicate=False) if _in_tail(n, layer))
        prefix_params = sum(p.numel() for n, p in c.model.named_parameters() if not _in_tail(n, layer))
        c.prefix = Prefix(layer, states("private", c, c.ids[:, :-1]), states("public", tv, tv.public),
                          states("test", tv, tv.test[:, :-1]), tail_params, prefix_params)

    def _logits(self, c: LMClient, ids: torch.Tensor, cached: torch.Tensor | None, keep: int) -> torch.Tensor:
        """[N, keep, V] logits of the last ``keep`` positions, from layer ``c.prefix.layer`` up when ``cached`` is given."""
        if cached is None or c.prefix is None:
            return c.model(input_ids=ids, logits_to_keep=keep).logits
        with tail(c.model, c.prefix.layer):
            return c.model(inputs_embeds=cached.to(self.device), logits_to_keep=keep).logits

    # ------------------------------------------------------------------ compute

    def work_flop(self, client: int, round_index: int) -> float:
        """6 N tokens per trained token, 2 N per inferred token (Kaplan et al. 2020).

        With a prefix cache, N is the parameters from layer L up (``Prefix.tail_params``),
        and the first time the client computes it also pays 2 N_prefix per token of its
        private and public sequences: the one-time forward that fills its cache.
        """
        c, cfg = self.clients[client], self.cfg
        seq = int(c.ids.shape[1])
        train_tokens = cfg.local_steps * min(cfg.batch_size, c.ids.shape[0]) * seq
        public_tokens = self.views[c.view].public.numel() if self.uses_public else 0
        distill = cfg.distill_steps * public_tokens if self.uses_public and round_index > 0 else 0
        if c.prefix is None:
            return float(c.params * (6 * (train_tokens + distill) + 2 * public_tokens))
        once = 0
        if client not in self._prefix_paid:
            self._prefix_paid.add(client)
            once = 2 * c.prefix.prefix_params * (c.prefix.private.shape[0] * c.prefix.private.shape[1] + public_tokens)
        return float(c.prefix.tail_params * (6 * (train_tokens + distill) + 2 * public_tokens) + once)

    def autocast(self) -> Any:
        """The precision context of the clients' forward passes (see :func:`pick_precision`)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def train_private(self, c: LMClient, steps: int | None = None, penalty: Callable[[], torch.Tensor] | None = None) -> float:
        """``steps`` (default ``local_steps``) steps of cross-entropy on the label token; returns the last loss.

        penalty : a regulariser added to every step's loss (FedBiOT's proximal term)
        """
        c.model.train()
        loss_value = math.nan
        for _ in range(self.cfg.local_steps if steps is None else steps):
            n = c.ids.shape[0]
            pick = torch.randint(0, n, (min(self.cfg.batch_size, n),), generator=c.gen).to(self.device)
            x = c.ids[pick]
            # Only the label position is scored: logits_to_keep skips the LM head elsewhere.
            with self.autocast():
                if c.prefix is None:
                    logits = c.model(input_ids=x[:, :-1], logits_to_keep=1).logits[:, -1, :]
                else:
                    logits = self._logits(c, x[:, :-1], c.prefix.private[pick.cpu()], 1)[:, -1, :]
            loss = torch.nn.functional.cross_entropy(logits.float(), x[:, -1])
            if penalty is not None:
                loss = loss + penalty()
            c.opt.zero_grad(set_to_none=True)
            loss.backward()
            c.opt.step()
            loss_value = float(loss.detach())
        return loss_value

    def public_logits(self, c: LMClient) -> torch.Tensor:
        """Logits at the exchanged public positions (by default the last ``distill_positions`` of
        every public sequence), [P, V] in the client's own vocabulary."""
        tv = self.views[c.view]
        length = tv.public.shape[1]
        keep = length - int(tv.cols.min())  # the LM head runs on the tail that holds every exchanged position
        with self.autocast():
            out = self._logits(c, tv.public, c.prefix.public if c.prefix is not None else None, keep)
        return out[tv.rows, tv.cols - (length - keep)]

    def at_positions(self, c: LMClient, x: torch.Tensor) -> torch.Tensor:
        """[N, L, ...] per public token (a forward hook's output) -> [P, ...] at the exchanged positions."""
        tv = self.views[c.view]
        return x[tv.rows, tv.cols]

    @property
    def positions(self) -> int:
        return int(self.views[self.clients[0].view].rows.numel())

    @torch.no_grad()
    def evaluate_model(self, model: Any, c: LMClient | None = None) -> tuple[float, np.ndarray]:
        """(mean label-token cross-entropy over the vocabulary, predicted class per test example).

        c : the client whose tokenizer the model reads (default: the anchor's)
        """
        test, label_ids = (self.test, self.label_ids) if c is None else (self.views[c.view].test, self.views[c.view].label_ids)
        model.eval()
        with self.autocast():
            if c is not None and c.prefix is not None and model is c.model:
                logits = self._logits(c, test[:, :-1], c.prefix.test, 1)[:, -1, :].float()
            else:
                logits = model(input_ids=test[:, :-1], logits_to_keep=1).logits[:, -1, :].float()
        loss = float(torch.nn.functional.cross_entropy(logits, test[:, -1]))
        pred = logits[:, label_ids].argmax(dim=-1).cpu().numpy()
        return loss, pred

    def evaluate(self, round_index: int) -> dict[str, float]:
        """Mean over clients of each client's own model (personalised FL); per-client ``evaluate_model``."""
        losses, accs, f1s = [], [], []
        for c in self.clients:
            loss, pred = self.evaluate_model(c.model, c)
            acc, f1 = classification_metrics(pred, self.task.test_y, len(self.task.label_names))
            losses.append(loss)
            accs.append(acc)
            f1s.append(f1)
        return {"eval_loss": float(np.mean(losses)), "eval_accuracy": float(np.mean(accs)), "eval_macro_f1": float(np.mean(f1s))}

    def client_storage_bytes(self, client: int) -> int:
        """Bytes of the model a client holds, every parameter as it is stored (tied weights once)."""
        return sum(p.numel() * p.element_size() for p in self.clients[client].model.parameters())

    def empty(self) -> Payload:
        return Payload(0)


def _in_tail(name: str, layer: int) -> bool:
    """Whether parameter ``name`` runs in the forward from ``layer`` up (layers >= layer, final norm, LM head)."""
    from workloads.models import layer_index

    idx = layer_index(name)
    if idx is not None:
        return idx >= layer
    return any(f".{part}." in f".{name}" for part in ("norm", "ln_f", "lm_head"))

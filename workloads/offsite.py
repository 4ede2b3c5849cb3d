"""What FedSODA and FedBiOT share: clients adapt a compressed sub-LLM, the server aligns it to the full LLM.

Both follow Offsite-tuning (Xiao et al. 2023): the server splits the LLM into
*adapter* layers, which clients fine-tune with LoRA, and an *emulator* (the
other layers, compressed by dropping some), which clients hold frozen.  What
differs is how the emulator is chosen and stored and how it is aligned, so a
subclass gives the kept layers, the stored form of the sub-LLM and the hidden
states to match; this module builds the sub-LLM and the clients, runs the
server's alignment loop, tracks the one-time download and what each client
holds, and accounts client storage.

Alignment trains a LoRA on the emulator (never the emulator itself), with the
averaged adapters plugged into both models: the clients' frozen copy stays
valid, so the sub-LLM is downloaded once and only the emulator LoRA travels
again.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from workloads.aggregate import average_arrays
from workloads.base import Budget, Payload
from workloads.data import bpe_view, encode_task, hf_view, load_corpus, split_corpus
from workloads.fedcore import FedLM, LMClient, classification_metrics, tiny_spec_args
from workloads.models import ModelSpec, add_lora, load_lora_state, lora_state
from workloads.payload import decode_arrays, encode_arrays, pack_parts, unpack_parts
from workloads.quant import decode_weights
from workloads.sgp import decoder_layers, prune_layers

__all__ = ["OffsiteLM", "InputTap", "alignment_loss", "hidden_distance", "rename_layers", "layer_of"]

_LAYER = re.compile(r"\.(layers|h)\.(\d+)\.")


def layer_of(name: str) -> int | None:
    """The decoder layer a parameter name lies in (``.layers.i.`` or ``.h.i.``), None outside the stack."""
    m = _LAYER.search(name)
    return None if m is None else int(m.group(2))


def rename_layers(state: Mapping[str, np.ndarray], mapping: Mapping[int, int]) -> dict[str, np.ndarray]:
    """Rename ``layers.i.`` (or ``h.i.``) to ``layers.mapping[i].``; names outside the stack pass unchanged."""

    def rename(name: str) -> str:
        return _LAYER.sub(lambda m: f".{m.group(1)}.{mapping[int(m.group(2))]}.", name, count=1)

    return {rename(n): a for n, a in state.items()}


def _hf(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


class InputTap:
    """Keeps the hidden state entering one decoder layer."""

    def __init__(self, model: Any, layer: int) -> None:
        self.h: torch.Tensor | None = None
        decoder_layers(_hf(model))[layer].register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, _m: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.h = args[0] if args else kwargs["hidden_states"]

    def held(self) -> torch.Tensor:
        """The hidden state of the last forward pass."""
        if self.h is None:
            raise RuntimeError("no forward pass has run through the tapped layer yet")
        return self.h


def hidden_distance(h_s: torch.Tensor, h_t: torch.Tensor, distance: str = "l2") -> torch.Tensor:
    """Distance of two hidden states [N, T, d]: ``l2`` = ||h_s - h_t||^2 / ||h_t||^2; ``cosine`` = 1 - mean token cosine."""
    if distance == "l2":
        return ((h_s - h_t) ** 2).sum() / (h_t**2).sum().clamp_min(1e-12)
    if distance == "cosine":
        return 1.0 - torch.nn.functional.cosine_similarity(h_s, h_t, dim=-1, eps=1e-12).mean()
    raise ValueError(f"unknown hidden distance {distance!r}; known: cosine, l2")


def alignment_loss(
    student: Any, s_taps: Sequence[InputTap], teacher: Any, t_taps: Sequence[InputTap], ids: torch.Tensor,
    positions: int, temperature: float, hidden_weight: float, logit_weight: float, distance: str = "l2",
) -> torch.Tensor:
    """Alignment loss of the sub-LLM against the full LLM on ``ids`` [N, T].

    hidden_weight * the mean over tap pairs of :func:`hidden_distance`
    between the hidden states entering matching layers, plus logit_weight *
    T^2 KL(p_t || p_s) at temperature T on the last ``positions`` positions
    (Hinton et al. 2015).
    """
    with torch.no_grad():
        t_logits = teacher(input_ids=ids, logits_to_keep=positions).logits[:, -positions:, :].float()
        h_t = [tap.held().detach().float() for tap in t_taps]
    s_logits = student(input_ids=ids, logits_to_keep=positions).logits[:, -positions:, :].float()
    parts = [hidden_distance(s.held().float(), t, distance) for s, t in zip(s_taps, h_t)]
    if not parts:  # an emulator of no layers: only the logits to match
        hidden = torch.zeros((), device=s_logits.device)
    else:
        hidden = parts[0] if len(parts) == 1 else torch.stack(parts).mean()
    t = temperature
    kl = torch.nn.functional.kl_div(
        torch.log_softmax(s_logits / t, -1).flatten(0, 1), torch.log_softmax(t_logits / t, -1).flatten(0, 1),
        log_target=True, reduction="batchmean",
    )
    return hidden_weight * hidden + logit_weight * t * t * kl


class OffsiteLM(FedLM):
    """Adapter + emulator on the clients, the full LLM on the server; subclasses choose and store the emulator.

    A subclass builds the task and the full model, then calls
    :meth:`_build_offsite`, and provides

    - ``_encode_sub(sub) -> bytes``: the frozen sub-LLM as downloaded and
      stored (its decoder must give what the clients compute with);
    - ``_align_settings() -> (steps after each aggregation, lr, hidden weight,
      logit weight, distance)``;
    - optionally ``_finish_sub(sub)`` (a device format) and
      ``_local_train(c)`` (the client's objective).
    """

    uses_public = False  # clients never touch the public set; the server uses it to align
    server_gen: torch.Generator  # the server's draws (alignment batches, its LoRA init); set by the subclass
    family: str

    # ------------------------------------------------------------------ construction

    def _encode_sub(self, sub: Any) -> bytes:
        raise NotImplementedError

    def _fedlm_base(self, num_clients: int, data_ss: np.random.SeedSequence, model_ss: np.random.SeedSequence) -> Any:
        """The task and the full model as :class:`FedLM` builds client 0's: the same split, tokenizer and
        (pretrained tiny or pretrained) base on the same seed branches, so rows pair with the FedLM algorithms'."""
        cfg = self.cfg
        data = load_corpus(cfg.corpus)
        tiny = cfg.model_source == "tiny"
        split = split_corpus(
            data, num_clients, public_size=cfg.public_size, test_size=cfg.test_size,
            pretrain_size=cfg.pretrain_size if cfg.warmup_steps > 0 else 0, alpha=cfg.dirichlet_alpha,
            max_private=cfg.private_max, rng=np.random.default_rng(data_ss), base_size=cfg.base_articles if tiny else 0,
        )
        pretrained = None
        if tiny:
            view = bpe_view(data, split, cfg.vocab_size)
        else:
            from workloads.pretrained import SOURCES, shared_copy, shared_pretrained

            family = SOURCES[cfg.model_source][0]
            tokenizer, frozen = shared_pretrained(cfg.model_source)  # loaded once per process
            view = hf_view(tokenizer, data.label_names)
            pretrained = shared_copy(frozen)  # wrapped with LoRA later: the shared tree stays unwrapped
        self.task = encode_task(data, split, view, cfg.text_tokens)
        self.vocab = self.task.vocab_size
        self.public = torch.as_tensor(self.task.public_ids[:, :-1], device=self.device)
        self.test = torch.as_tensor(self.task.test_ids, device=self.device)
        self.label_ids = torch.as_tensor(self.task.label_token_ids, device=self.device)
        model_seed = int(model_ss.generate_state(1)[0])
        if pretrained is not None:
            self.family = family
            return pretrained
        family, hidden, layers, heads = tiny_spec_args(cfg, 0)
        self.family = family
        spec = ModelSpec(family, self.vocab, hidden, layers, heads, int(self.task.public_ids.shape[1]))
        return self._tiny_base(spec, data, split, view, self.task, model_seed)

    def _finish_sub(self, sub: Any) -> None:
        """Put the frozen sub-LLM into its compute format after its weights are what clients decode."""

    def _align_settings(self) -> tuple[int, float, float, float, str]:
        raise NotImplementedError

    def _build_offsite(
        self, full: Any, kept: Sequence[int], adapter_sub: set[int], taps: Sequence[tuple[int, int]],
        init_steps: int, client_ss: np.random.SeedSequence, num_clients: int,
    ) -> None:
        """Sub-LLM of the ``kept`` full layers, LoRA everywhere, clients, and the alignment before release.

        adapter_sub : sub-LLM layers whose LoRA the clients train (the others' is the emulator LoRA)
        taps : (sub layer, full layer) pairs whose input hidden states the alignment matches
        """
        cfg = self.cfg
        self.to_full = dict(enumerate(kept))  # sub-LLM layer -> full-LLM layer
        self.adapter_sub = set(adapter_sub)
        _, lr, self.align_hidden_weight, self.align_logit_weight, self.align_distance = self._align_settings()

        # The frozen sub-LLM as stored and downloaded, and as clients compute with it.
        sub = prune_layers(full, kept).cpu()
        self.model_blob = self._encode_sub(sub)
        stored = decode_weights(self.model_blob)
        with torch.no_grad():
            for n, p in sub.named_parameters():
                p.copy_(torch.as_tensor(stored[n]))
        self.sub_params = sum(p.numel() for p in sub.parameters())
        self._finish_sub(sub)
        sub = sub.to(self.device)

        # LoRA everywhere; clients train the adapter part, the server's alignment the emulator part.
        self.full = add_lora(full, self.family, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets, self.server_gen).to(self.device)
        self.server_sub = add_lora(copy.deepcopy(sub), self.family, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets,
                                   self.server_gen).to(self.device)
        emulator = [p for n, p in self.server_sub.named_parameters() if self._part(n) == "emulator"]
        for n, p in self.server_sub.named_parameters():
            p.requires_grad_(self._part(n) == "emulator")
        self.oda_opt = torch.optim.AdamW(emulator, lr=lr, weight_decay=0.0) if emulator else None
        self.s_taps = [InputTap(self.server_sub, s) for s, _ in taps]
        self.t_taps = [InputTap(self.full, f) for _, f in taps]
        self.align_loss = math.nan
        self.clients: list[LMClient] = []
        for i, css in enumerate(client_ss.spawn(num_clients)):
            gen = torch.Generator().manual_seed(int(css.generate_state(1)[0]))
            model = add_lora(copy.deepcopy(sub), self.family, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets, gen).to(self.device)
            for n, p in model.named_parameters():
                p.requires_grad_(self._part(n) == "adapter")
            trainable = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)
            ids = torch.as_tensor(self.task.client_ids[i], device=self.device)
            self.clients.append(LMClient(i, self.family, model, ids, gen, opt, self.sub_params, self.family))
        del sub

        # Alignment before release: the emulator LoRA travels with the one-time download.
        self.adapters: dict[str, np.ndarray] = {}
        self._align(init_steps)
        self.emulator_state = self._roundtrip(self._state(self.server_sub, "emulator"))
        lora_params = sum(p.numel() for n, p in self.clients[0].model.named_parameters() if "lora_" in n)
        # LoRA (adapter and emulator) is held in fp32, as trained; optimiser state is not counted.
        self.storage_bytes = len(self.model_blob) + 4 * lora_params
        self.up_bits = 8 * len(encode_arrays(self._state(self.clients[0].model, "adapter"), cfg.value_precision))
        # A preinstalled sub-model is on every device from the start: only the later adapters travel.
        self.has_model = np.full(num_clients, cfg.sub_model == "preinstalled", dtype=bool)
        self.round_down = Payload(0)  # the current adapters (and emulator LoRA) since the last aggregation
        # Aggregations so far, and the one each client's last arrived download carried.
        self.version = 0
        self.client_version = np.zeros(num_clients, dtype=np.int64)
        self.first_down = Payload(0)

    # ------------------------------------------------------------------ helpers

    def _part(self, name: str) -> str:
        """'adapter', 'emulator' (LoRA of the sub-LLM) or 'frozen'."""
        if "lora_" not in name:
            return "frozen"
        layer = layer_of(name)
        return "adapter" if layer is None or layer in self.adapter_sub else "emulator"

    def _state(self, model: Any, part: str) -> dict[str, np.ndarray]:
        return {n: a for n, a in lora_state(model).items() if self._part(n) == part}

    def _roundtrip(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """What a client decodes from ``state`` sent at ``value_precision``."""
        return decode_arrays(encode_arrays(state, self.cfg.value_precision)) if state else {}

    def _round_payload(self, emulator: dict[str, np.ndarray]) -> Payload:
        parts = [encode_arrays(self.adapters, self.cfg.value_precision), encode_arrays(emulator, self.cfg.value_precision)]
        data = pack_parts(parts)
        return Payload(8 * len(data), content=data)

    def _load(self, model: Any) -> None:
        load_lora_state(model, self.adapters)
        load_lora_state(model, self.emulator_state)

    def _load_full(self) -> None:
        load_lora_state(self.full, rename_layers(self.adapters, self.to_full))

    def _align(self, steps: int) -> None:
        """``steps`` AdamW steps of the emulator LoRA on public batches, adapters plugged in."""
        if steps == 0 or self.oda_opt is None:
            return
        cfg = self.cfg
        load_lora_state(self.server_sub, self.adapters)
        self._load_full()
        self.full.eval()
        self.server_sub.train()
        n = self.public.shape[0]
        for _ in range(steps):
            pick = torch.randint(0, n, (min(cfg.batch_size, n),), generator=self.server_gen).to(self.device)
            loss = self.alignment(self.public[pick])
            self.oda_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.oda_opt.step()
            self.align_loss = float(loss.detach())

    def alignment(self, ids: torch.Tensor) -> torch.Tensor:
        """The alignment loss of the server's sub-LLM against the full LLM on ``ids``, as they are loaded now."""
        cfg = self.cfg
        return alignment_loss(self.server_sub, self.s_taps, self.full, self.t_taps, ids, cfg.distill_positions,
                              cfg.temperature, self.align_hidden_weight, self.align_logit_weight, self.align_distance)

    def _local_train(self, c: LMClient) -> None:
        self.train_private(c)

    # ------------------------------------------------------------------ the seam

    def broadcast(self, round_index: int) -> Payload:
        if round_index == 0:
            data = pack_parts([self.model_blob, encode_arrays(self.emulator_state, self.cfg.value_precision)])
            self.first_down = Payload(8 * len(data), content=data)
        return self.round_down

    def downlink(self, client: int, round_index: int) -> Payload:
        if not self.has_model[client]:
            # The sub-LLM once (again after a lost download), plus the current adapters if any.
            return Payload(self.first_down.bits + self.round_down.bits)
        if self.client_version[client] < self.version:
            return self.round_down  # adapters this client has not received yet
        return Payload(0)

    def downloaded(self, client: int, round_index: int) -> None:
        self.has_model[client] = True
        self.client_version[client] = self.version

    def client_storage_bytes(self, client: int) -> int:
        return self.storage_bytes

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        if self.up_bits > budget.max_bits:
            return None  # the adapter cannot arrive before the deadline: skip rather than waste airtime
        c = self.clients[client]
        self._load(c.model)
        self._local_train(c)
        data = encode_arrays(self._state(c.model, "adapter"), self.cfg.value_precision)
        return Payload(8 * len(data), content=data)

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        if not payloads:
            return  # nothing changed; clients that missed the last adapters still get them
        self.version += 1
        states = [decode_arrays(p.content) for p in payloads.values()]
        weights = [float(self.clients[c].ids.shape[0]) for c in payloads]
        self.adapters = self._roundtrip(average_arrays(states, weights))
        steps = self._align_settings()[0]
        self._align(steps)
        # Without alignment after release the emulator LoRA never changes: clients keep theirs, nothing is re-sent.
        changed = self._state(self.server_sub, "emulator") if steps > 0 else {}
        self.round_down = self._round_payload(changed)
        # Clients use what they decode, the server's evaluation too.
        adapters, emulator = (decode_arrays(p) for p in unpack_parts(self.round_down.content))
        self.adapters = adapters
        if changed:
            self.emulator_state = emulator

    @torch.no_grad()
    def evaluate(self, round_index: int) -> dict[str, float]:
        self._load_full()
        loss, pred = self.evaluate_model(self.full)
        acc, f1 = classification_metrics(pred, self.task.test_y, len(self.task.label_names))
        self._load(self.server_sub)
        sub_loss, sub_pred = self.evaluate_model(self.server_sub)
        sub_acc, _ = classification_metrics(sub_pred, self.task.test_y, len(self.task.label_names))
        return {
            "eval_loss": loss, "eval_accuracy": acc, "eval_macro_f1": f1,
            "eval_sub_loss": sub_loss, "eval_sub_accuracy": sub_acc, "eval_align_loss": self.align_loss,
        }

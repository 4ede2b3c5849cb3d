"""What the four language-model algorithms share: the task, the clients, training, evaluation.

A :class:`FedLM` holds one LoRA-wrapped model per client (its family cycles
through ``workload.families``), the tokenised task and every generator.
Algorithms subclass it and fill in the four seam methods that differ.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workloads.base import Payload
from workloads.data import TextTask, build_task
from workloads.models import ModelSpec, add_lora, warm_base

__all__ = ["FedLM", "LMClient", "classification_metrics", "pick_device"]


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("workload.device is cuda but no CUDA device is available")
    return torch.device(name)


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


class FedLM:
    """Shared state and steps; subclasses implement broadcast/local_update/aggregate."""

    uses_public = True

    def __init__(self, cfg: Any, num_clients: int, seed: int) -> None:
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        ss = np.random.SeedSequence([seed, 0x574B])  # the workload's own branch of the scenario seed
        data_ss, model_ss, client_ss = ss.spawn(3)
        pretrained = None
        tokenizer = None
        if cfg.model_source == "smollm2":
            from workloads.pretrained import load_smollm2, load_smollm2_tokenizer

            tokenizer = load_smollm2_tokenizer()
            pretrained = load_smollm2()
        self.task: TextTask = build_task(
            cfg.corpus, num_clients, vocab_size=cfg.vocab_size, text_tokens=cfg.text_tokens,
            public_size=cfg.public_size, test_size=cfg.test_size, pretrain_size=cfg.pretrain_size, alpha=cfg.dirichlet_alpha,
            max_private=cfg.private_max, rng=np.random.default_rng(data_ss), tokenizer=tokenizer,
        )
        self.vocab = self.task.vocab_size
        model_seed = int(model_ss.generate_state(1)[0])
        self.public = torch.as_tensor(self.task.public_ids[:, :-1], device=self.device)  # no labels: unlabeled set
        self.test = torch.as_tensor(self.task.test_ids, device=self.device)
        self.label_ids = torch.as_tensor(self.task.label_token_ids, device=self.device)
        self.clients: list[LMClient] = []
        for i, css in enumerate(client_ss.spawn(num_clients)):
            if pretrained is not None:
                family = "llama"  # SmolLM2 is a Llama architecture
                base = copy.deepcopy(pretrained)
            else:
                family = cfg.families[i % len(cfg.families)]
                seq = int(self.task.public_ids.shape[1])
                spec = ModelSpec(family, self.vocab, cfg.hidden_size, cfg.layers, cfg.heads, seq)
                # Same family, same warmed base: clients differ only in data and LoRA init.
                base = warm_base(spec, self.task.pretrain_ids, cfg.warmup_steps, cfg.batch_size, cfg.warmup_lr, model_seed)
            gen = torch.Generator().manual_seed(int(css.generate_state(1)[0]))
            model = add_lora(base, family, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets, gen).to(self.device)
            trainable = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)
            ids = torch.as_tensor(self.task.client_ids[i], device=self.device)
            self.clients.append(LMClient(i, family, model, ids, gen, opt, sum(p.numel() for p in model.parameters())))

    # ------------------------------------------------------------------ compute

    def work_flop(self, client: int, round_index: int) -> float:
        """6 N tokens per trained token, 2 N per inferred token (Kaplan et al. 2020)."""
        c, cfg = self.clients[client], self.cfg
        seq = int(c.ids.shape[1])
        train_tokens = cfg.local_steps * min(cfg.batch_size, c.ids.shape[0]) * seq
        public_tokens = self.public.numel() if self.uses_public else 0
        distill = cfg.distill_steps * public_tokens if self.uses_public and round_index > 0 else 0
        return float(c.params * (6 * (train_tokens + distill) + 2 * public_tokens))

    def train_private(self, c: LMClient) -> float:
        """``local_steps`` steps of cross-entropy on the label token; returns the last loss."""
        c.model.train()
        loss_value = math.nan
        for _ in range(self.cfg.local_steps):
            n = c.ids.shape[0]
            pick = torch.randint(0, n, (min(self.cfg.batch_size, n),), generator=c.gen).to(self.device)
            x = c.ids[pick]
            # Only the label position is scored: logits_to_keep skips the LM head elsewhere.
            logits = c.model(input_ids=x[:, :-1], logits_to_keep=1).logits[:, -1, :]
            loss = torch.nn.functional.cross_entropy(logits.float(), x[:, -1])
            c.opt.zero_grad(set_to_none=True)
            loss.backward()
            c.opt.step()
            loss_value = float(loss.detach())
        return loss_value

    def public_logits(self, c: LMClient) -> torch.Tensor:
        """Logits at the last ``distill_positions`` positions of every public sequence, [P, V]."""
        dp = self.cfg.distill_positions
        out = c.model(input_ids=self.public, logits_to_keep=dp).logits[:, -dp:, :]
        return out.reshape(-1, out.shape[-1])

    @property
    def positions(self) -> int:
        return int(self.public.shape[0] * self.cfg.distill_positions)

    @torch.no_grad()
    def evaluate_model(self, model: Any) -> tuple[float, np.ndarray]:
        """(mean label-token cross-entropy over the vocabulary, predicted class per test example)."""
        model.eval()
        logits = model(input_ids=self.test[:, :-1], logits_to_keep=1).logits[:, -1, :].float()
        loss = float(torch.nn.functional.cross_entropy(logits, self.test[:, -1]))
        pred = logits[:, self.label_ids].argmax(dim=-1).cpu().numpy()
        return loss, pred

    def evaluate(self, round_index: int) -> dict[str, float]:
        """Mean over clients of each client's own model (personalised FL); per-client ``evaluate_model``."""
        losses, accs, f1s = [], [], []
        for c in self.clients:
            loss, pred = self.evaluate_model(c.model)
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

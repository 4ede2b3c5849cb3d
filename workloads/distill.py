"""Federated distillation on a public set: the round shared by fd_full, fd_topk_zeropad, adaptive_topk.

Per round, per client: distil toward last round's aggregate on the public
positions (KL with temperature, plus the hidden-projection term where the
algorithm shares one), train on private data, compute log-probabilities at
temperature T on the public positions, keep k entries per position and encode
them.  The server turns each upload back into probabilities, averages them
(per entry over its senders, or zero-padded), and broadcasts the aggregate.
Clients with another tokenizer than the anchor's map their probabilities into
the anchor vocabulary before choosing k, and the aggregate back into theirs
before distilling (:mod:`workloads.align`).

The balance between the aggregate and the private data is configurable:
``distill_steps`` at ``distill_lr``, ``distill_order`` (distil before or after
private training), ``private_kl_weight`` (a KL toward the aggregate inside
every private step, on a public batch: FedKD-style joint training, which keeps
a one-topic client from forgetting the consensus while it trains), and
``aggregate_sharpening`` (DS-FL's entropy reduction of the aggregate).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch

from workloads.aggregate import average_sparse, scatter_topk, sharpen
from workloads.align import VocabMap, from_anchor, to_anchor
from workloads.base import Budget, Payload
from workloads.fedcore import FedLM, LMClient
from workloads.losses import hidden_projection_loss, topk_kl
from workloads.models import HiddenTap
from workloads.payload import (
    TopK,
    decode_arrays,
    decode_masked,
    decode_topk,
    encode_arrays,
    encode_masked,
    encode_topk,
    pack_parts,
    unpack_parts,
)

__all__ = ["Distillation"]


class Distillation(FedLM):
    """Subclasses set ``aggregation`` and ``share_hidden`` and implement :meth:`choose_k`."""

    aggregation = "support"
    share_hidden = False
    index_coding = "fixed"

    def __init__(self, cfg: Any, num_clients: int, seed: np.random.SeedSequence) -> None:
        super().__init__(cfg, num_clients, seed)
        self.target: tuple[np.ndarray, np.ndarray] | None = None  # (probs [P, V], support [P, V])
        self.view_targets: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # target mapped into each tokenizer
        self.survival: dict[int, tuple[float, float, float]] = {}  # client -> (mass, top-k count, top-k mass) mapped
        self._own: dict[int, torch.Tensor] = {}  # client -> last upload's probabilities in its own vocabulary
        self.hidden_target: dict[str, np.ndarray] = {}  # family -> mean h [P, r]
        self.down = Payload(0)
        self.taps = [HiddenTap(c.model, cfg.hidden_layer) for c in self.clients] if self.share_hidden else []
        # Its own stream per client, so the private batches stay those of a run without the private KL term.
        (kl_ss,) = seed.spawn(1)
        self.public_gens = [torch.Generator().manual_seed(int(s.generate_state(1)[0])) for s in kl_ss.spawn(num_clients)]

    # ------------------------------------------------------------------ policy

    def choose_k(self, client: int, budget: Budget, extra_bits: int) -> int:
        """Entries per public position for this upload; 0 skips it."""
        raise NotImplementedError

    # ------------------------------------------------------------------ seam

    def broadcast(self, round_index: int) -> Payload:
        return self.down

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        c = self.clients[client]
        before = self.cfg.distill_order == "before"
        if self.target is not None and before:
            self._distil(c)
        self.train_private(c, penalty=self._private_kl(c) if self.target is not None else None)
        if self.target is not None and not before:
            self._distil(c)
        c.model.eval()
        with torch.no_grad():
            logp = torch.log_softmax(self.public_logits(c).float() / self.cfg.temperature, dim=-1)
            h = self._hidden(client) if self.share_hidden else None
            vmap = self.views[c.view].vmap
            if vmap is not None:
                logp = self._into_anchor(client, logp, vmap)
        hidden_part = encode_arrays({c.family: h}, "fp16") if h is not None else b""
        extra_bits = 8 * (len(hidden_part) + 8)  # the hidden part and two length prefixes
        k = self.choose_k(client, budget, extra_bits)
        if vmap is not None:
            # Past the anchor tokens it can reach, a mapped client would send floor values, which
            # the server would average in as near-zero probabilities: zero padding by another name.
            k = min(k, vmap.reachable)
        if k == 0:
            self._own.pop(client, None)
            self.survival.pop(client, None)
            return None
        if vmap is not None:
            self._record_topk_survival(client, k, vmap)
        top = torch.topk(logp, k, dim=-1).indices.sort(dim=-1).values
        msg = TopK(top.cpu().numpy(), torch.gather(logp, 1, top).cpu().numpy(), self.vocab)
        data = pack_parts([encode_topk(msg, self.cfg.value_precision, self.index_coding), hidden_part])
        return Payload(8 * len(data), content=data, k=k)

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        if not payloads:
            return  # nothing arrived: keep last round's knowledge
        values, masks, hidden = [], [], {}
        for client, p in payloads.items():
            logits_part, hidden_part = unpack_parts(p.content)
            v, m = scatter_topk(decode_topk(logits_part))
            values.append(np.exp(v))
            masks.append(m)
            for fam, h in (decode_arrays(hidden_part) if hidden_part else {}).items():
                hidden.setdefault(fam, []).append(h)
        probs, support = average_sparse(values, masks, mode=self.aggregation)
        probs = sharpen(probs, support, self.cfg.aggregate_sharpening)
        self.hidden_target = {fam: np.mean(hs, axis=0) for fam, hs in hidden.items()}
        with np.errstate(divide="ignore"):
            log_mean = np.log(np.where(support, probs, 1.0))
        parts = [encode_masked(log_mean, support)]
        if self.hidden_target:
            parts.append(encode_arrays(self.hidden_target, "fp16"))
        # What goes down is exactly what the clients decode before distilling.
        self.down = Payload(8 * len(pack_parts(parts)), content=pack_parts(parts))
        dec_logp, dec_support = decode_masked(parts[0])
        self.target = (np.where(dec_support, np.exp(dec_logp), 0.0).astype(np.float32), dec_support)
        self.view_targets = {}
        if self.hidden_target:
            self.hidden_target = decode_arrays(parts[1])

    # ------------------------------------------------------------------ steps

    def _hidden(self, client: int) -> np.ndarray:
        """h of the last public forward pass at the distilled positions, [P, r]."""
        out = self.taps[client].out
        if out is None:
            raise RuntimeError("no hidden projection captured: public_logits must run first")
        return self.at_positions(self.clients[client], out).float().cpu().numpy()

    def _into_anchor(self, client: int, logp: torch.Tensor, vmap: VocabMap) -> torch.Tensor:
        """A client's log-probabilities [P, V_client] as log-probabilities over the anchor vocabulary [P, V]."""
        probs = logp.exp()
        mapped = to_anchor(probs, vmap, self.vocab)
        self._own[client] = probs
        self.survival[client] = (float(mapped.sum(dim=-1).mean()), float("nan"), float("nan"))
        # A reachable token keeps a finite value even when its probability underflows (the
        # encoder needs finite values); an unreachable one is -inf, so top-k (k capped at the
        # reachable count) never picks it.
        logp_anchor = torch.log(mapped.clamp_min(1e-30))
        reached = torch.as_tensor(vmap.reached, device=logp_anchor.device)
        out = torch.full_like(logp_anchor, -torch.inf)
        out[:, reached] = logp_anchor[:, reached]
        return out

    def _record_topk_survival(self, client: int, k: int, vmap: VocabMap) -> None:
        """How much of the client's own top-k (in its vocabulary) has an anchor counterpart."""
        probs = self._own.pop(client)
        top = torch.topk(probs, min(k, probs.shape[1]), dim=-1)
        has = torch.as_tensor(vmap.to_anchor[top.indices.cpu().numpy()] >= 0, device=probs.device)
        mass = float((top.values * has).sum() / top.values.sum())
        self.survival[client] = (self.survival[client][0], float(has.float().mean()), mass)

    def evaluate(self, round_index: int) -> dict[str, float]:
        metrics = super().evaluate(round_index)
        if len(self.views) > 1:
            # Over the clients that mapped an upload into the anchor vocabulary this round.
            got = [self.survival[i] for i in sorted(self.survival)]
            metrics["eval_mapped_mass"] = float(np.mean([g[0] for g in got])) if got else float("nan")
            metrics["eval_mapped_topk"] = float(np.mean([g[1] for g in got])) if got else float("nan")
            metrics["eval_mapped_topk_mass"] = float(np.mean([g[2] for g in got])) if got else float("nan")
            self.survival = {}
        return metrics

    def _target_for(self, c: LMClient) -> tuple[np.ndarray, np.ndarray]:
        """The aggregate (anchor vocabulary) in the client's own vocabulary, once per tokenizer per round."""
        if self.target is None:
            raise RuntimeError("no aggregated target to distil yet")
        vmap = self.views[c.view].vmap
        if vmap is None:
            return self.target
        if c.view not in self.view_targets:
            vocab = self.views[c.view].task.vocab_size
            self.view_targets[c.view] = from_anchor(self.target[0], self.target[1], vmap, vocab)
        return self.view_targets[c.view]

    def work_flop(self, client: int, round_index: int) -> float:
        """FedLM's count plus the private KL term's public forward passes (one batch per private step)."""
        flop = super().work_flop(client, round_index)
        cfg, c = self.cfg, self.clients[client]
        if cfg.private_kl_weight > 0 and round_index > 0:
            public = self.views[c.view].public
            flop += 6 * c.params * cfg.local_steps * min(cfg.batch_size, public.shape[0]) * public.shape[1]
        return float(flop)

    def _private_kl(self, c: LMClient) -> Callable[[], torch.Tensor] | None:
        """The private steps' penalty: ``private_kl_weight`` x the KL toward the aggregate on a public batch."""
        weight = self.cfg.private_kl_weight
        if weight <= 0:
            return None
        target = self._target_for(c)
        probs = torch.as_tensor(target[0], device=self.device)
        support = torch.as_tensor(target[1], device=self.device)
        h_target = self.hidden_target.get(c.family) if self.share_hidden and self.cfg.hidden_weight > 0 else None
        h_all = None if h_target is None else torch.as_tensor(h_target, device=self.device)
        n = self.views[c.view].public.shape[0]
        gen = self.public_gens[c.index]

        def penalty() -> torch.Tensor:
            articles = torch.randperm(n, generator=gen)[: min(self.cfg.batch_size, n)].to(self.device)
            logits, sel, (rows, cols) = self.public_batch_logits(c, articles)
            loss = topk_kl(logits, probs[sel], support[sel], self.cfg.temperature, self.cfg.kl_normalisation)
            if h_all is not None:
                # The same objective as a distillation step: KL plus hidden_weight x the hidden projection's MSE.
                out = self.taps[c.index].out
                if out is None:
                    raise RuntimeError("no hidden projection captured in the forward pass")
                loss = loss + self.cfg.hidden_weight * hidden_projection_loss(out[rows, cols], h_all[sel])
            return weight * loss

        return penalty

    def public_batch_logits(
        self, c: LMClient, articles: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits [P_b, V] at the exchanged positions of some public articles, which of the P positions
        they are [P_b], and where those sit in the batch (rows [P_b] into ``articles``, columns [P_b]).

        articles : [B] distinct row indices into the public set
        """
        tv = self.views[c.view]
        n, length = tv.public.shape
        slot = torch.full((n,), -1, dtype=torch.long, device=self.device)
        slot[articles] = torch.arange(articles.numel(), device=self.device)
        sel = torch.nonzero(slot[tv.rows] >= 0).squeeze(1)
        rows, cols = slot[tv.rows[sel]], tv.cols[sel]
        keep = length - int(cols.min())
        with self.autocast():
            out = c.model(input_ids=tv.public[articles], logits_to_keep=keep).logits
        return out[rows, cols - (length - keep)], sel, (rows, cols)

    def _distil(self, c: LMClient) -> None:
        target = self._target_for(c)
        probs = torch.as_tensor(target[0], device=self.device)
        support = torch.as_tensor(target[1], device=self.device)
        h_target = self.hidden_target.get(c.family) if self.share_hidden else None
        c.model.train()
        with self._distill_lr(c):
            self._distil_steps(c, probs, support, h_target)

    @contextlib.contextmanager
    def _distill_lr(self, c: LMClient) -> Iterator[None]:
        """The optimiser at ``distill_lr`` for the distillation steps (its moments are shared with private training)."""
        lr = self.cfg.distill_lr
        saved = [g["lr"] for g in c.opt.param_groups]
        if lr is not None:
            for g in c.opt.param_groups:
                g["lr"] = lr
        try:
            yield
        finally:
            for g, old in zip(c.opt.param_groups, saved):
                g["lr"] = old

    def _distil_steps(self, c: LMClient, probs: torch.Tensor, support: torch.Tensor, h_target: np.ndarray | None) -> None:
        for _ in range(self.cfg.distill_steps):
            logits = self.public_logits(c)
            loss = topk_kl(logits, probs, support, self.cfg.temperature, self.cfg.kl_normalisation)
            if h_target is not None and self.cfg.hidden_weight > 0:
                h = self.taps[c.index].out
                if h is None:
                    raise RuntimeError("no hidden projection captured in the forward pass")
                h = self.at_positions(c, h)
                loss = loss + self.cfg.hidden_weight * hidden_projection_loss(h, torch.as_tensor(h_target, device=self.device))
            c.opt.zero_grad(set_to_none=True)
            loss.backward()
            c.opt.step()

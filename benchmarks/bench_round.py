"""One fedwave round of adaptive_topk versus a bare PyTorch + PEFT loop doing the same work.

Both sides run, per client: ``distill_steps`` top-k KL steps on the public
positions, ``local_steps`` LoRA steps on private batches, one forward pass on
the public set, log-softmax at temperature T and Top-k, then the evaluation forward pass on the test split.  fedwave adds the
SimPy round, the link budget, the payload encoding/decoding and the
support-aware aggregation; the ratio is what that costs.  The two sides
alternate, several repeats each, and the medians are compared.

    python benchmarks/bench_round.py [--repeats 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from peft import LoraConfig, get_peft_model

import workloads
from sim.core.engine import Engine
from sim.config.scenario import Scenario
from workloads.losses import topk_kl
from workloads.models import ModelSpec, build_base

WORKLOAD = {
    "algorithm": "adaptive_topk",
    "families": ["llama"],
    "hidden_size": 64,
    "layers": 2,
    "heads": 4,
    "vocab_size": 2048,
    "text_tokens": 48,
    "local_steps": 8,
    "distill_steps": 2,
    "public_size": 32,
    "distill_positions": 4,
    "test_size": 200,
    "device": "cpu",
    "threads": 1,
}


def scenario(clients: int) -> Scenario:
    return Scenario.model_validate(
        {
            "seed": 1,
            "rounds": 2,
            "clients": {"count": clients, "placement": {"kind": "uniform_disc", "radius_m": 150}},
            "cell": {"bandwidth_mhz": 0.2, "downlink_bandwidth_mhz": 100.0},
            # Every client gets the same good link, so all of them do the full round's work.
            "channel": {"snr_db": 10.0, "fading": {"model": "none"}},
            "round": {"deadline_s": 5.0},
            "workload": WORKLOAD,
        }
    )


def fedwave_round(scn: Scenario) -> tuple[float, int, int]:
    """Wall time of round 1 (round 0 has no aggregate to distil from yet), its delivered count and k."""
    alg = workloads.create("adaptive_topk", scn.workload, scn.clients.count, scn.seed)
    marks: list[float] = []
    result = Engine(scn, alg).run(on_round=lambda _row: marks.append(time.perf_counter()))
    row = result.rounds[1]
    return marks[1] - marks[0], int(row["delivered"]), int(round(row["mean_k"]))


def bare_round(clients: int, cfg: Any, vocab: int, k: int) -> float:
    """The same per-client work, written directly against torch and PEFT."""
    g = torch.Generator().manual_seed(0)
    seq = cfg.text_tokens + 2
    models = []
    for i in range(clients):
        base = build_base(ModelSpec("llama", vocab, cfg.hidden_size, cfg.layers, cfg.heads, seq), i)
        m = get_peft_model(base, LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, target_modules=list(cfg.lora_targets)))
        opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=cfg.lr)
        data = torch.randint(0, vocab, (cfg.private_max, seq), generator=g)
        models.append((m, opt, data))
    public = torch.randint(0, vocab, (cfg.public_size, seq - 1), generator=g)
    test = torch.randint(0, vocab, (cfg.test_size, seq), generator=g)
    p = cfg.public_size * cfg.distill_positions
    target = torch.softmax(torch.randn(p, vocab, generator=g), -1)
    support = torch.zeros(p, vocab, dtype=torch.bool)
    support[:, :k] = True
    t0 = time.perf_counter()
    for m, opt, data in models:
        m.train()
        for _ in range(cfg.distill_steps):
            logits = m(input_ids=public, logits_to_keep=cfg.distill_positions).logits.reshape(p, vocab)
            loss = topk_kl(logits, target, support, cfg.temperature, cfg.kl_normalisation)
            opt.zero_grad()
            loss.backward()
            opt.step()
        for _ in range(cfg.local_steps):
            x = data[torch.randint(0, data.shape[0], (cfg.batch_size,), generator=g)]
            loss = torch.nn.functional.cross_entropy(m(input_ids=x[:, :-1], logits_to_keep=1).logits[:, -1, :], x[:, -1])
            opt.zero_grad()
            loss.backward()
            opt.step()
        m.eval()
        with torch.no_grad():
            logits = m(input_ids=public, logits_to_keep=cfg.distill_positions).logits.reshape(p, vocab)
            logp = torch.log_softmax(logits / cfg.temperature, -1)
            torch.topk(logp, k, dim=-1)
            # fedwave evaluates every client after aggregation; so does this loop.
            m(input_ids=test[:, :-1], logits_to_keep=1)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(1)
    scn = scenario(args.clients)
    fed, bare = [], []
    for _ in range(args.repeats):
        t, delivered, k = fedwave_round(scn)
        if delivered != args.clients:
            raise SystemExit(f"only {delivered} of {args.clients} uploads delivered: the comparison would be unfair")
        fed.append(t)
        bare.append(bare_round(args.clients, scn.workload, scn.workload.vocab_size, k))
    f, b = statistics.median(fed), statistics.median(bare)
    print(f"clients={args.clients} threads=1 repeats={args.repeats} k={k}")
    print(f"fedwave round (adaptive_topk, round 1): median {f * 1e3:.1f} ms  {[round(x * 1e3) for x in fed]}")
    print(f"bare torch+PEFT loop, same work:        median {b * 1e3:.1f} ms  {[round(x * 1e3) for x in bare]}")
    print(f"ratio fedwave / bare: {f / b:.3f}x (target <= 1.10x)")


if __name__ == "__main__":
    main()

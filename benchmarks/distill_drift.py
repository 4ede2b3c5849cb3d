"""Round-by-round accuracy of one algorithm with every upload delivered (no link limit).

Drives the workload directly, without the simulated network, to separate
what the learning does from what the link allows; the docs/results.md
analysis of the distillation drift uses it.

    python benchmarks/distill_drift.py fd_full [--set workload.distill_steps=0] [--digest]

--digest also prints the accuracy after every client has distilled the new
aggregate (the model it would run after the next download), which the round
would otherwise only apply at the start of the next round.

--teacher also prints what there is to distil: the accuracy on the test set
of the ensemble (the mean of the clients' distributions over the label
tokens), and the accuracy on the public set of the aggregate the clients
distil toward, with its mean largest label probability (at the distillation
temperature, over the whole vocabulary).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import workloads
from sim.config.scenario import load_scenario
from workloads.base import Budget

UNLIMITED = Budget(max_bits=10**12, rate_bps=1e12, snr_db=60.0, deadline_s=1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("algorithm")
    ap.add_argument("--scenario", default="scenarios/compare_tiny.yaml")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--digest", action="store_true")
    ap.add_argument("--teacher", action="store_true")
    args = ap.parse_args()
    scn = load_scenario(args.scenario, [f"workload.algorithm={args.algorithm}", *args.overrides])
    alg = workloads.create(args.algorithm, scn.workload, scn.clients.count, scn.seed)
    print(f"base: accuracy {alg.evaluate(-1)['eval_accuracy']:.3f}")
    digest = getattr(alg, "_distil", None) if args.digest else None
    if digest is not None:
        alg._distil = lambda c: None  # the digest runs right after aggregation instead
    for r in range(scn.rounds):
        alg.broadcast(r)
        payloads = {i: p for i in range(scn.clients.count) if (p := alg.local_update(i, r, UNLIMITED)) is not None}
        alg.aggregate(r, payloads, {})
        m = alg.evaluate(r)
        line = f"round {r}: accuracy {m['eval_accuracy']:.3f} eval loss {m['eval_loss']:.3f}"
        if digest is not None and getattr(alg, "target", None) is not None:
            for c in alg.clients:
                digest(c)
            line += f" | after digest: accuracy {alg.evaluate(r)['eval_accuracy']:.3f}"
        if args.teacher:
            line += teacher_line(alg)
        print(line, flush=True)


@torch.no_grad()
def teacher_line(alg) -> str:
    task, labels = alg.task, alg.label_ids
    probs = []
    for c in alg.clients:
        c.model.eval()
        logits = c.model(input_ids=alg.test[:, :-1], logits_to_keep=1).logits[:, -1, :].float()
        probs.append(torch.softmax(logits[:, labels], dim=-1).cpu().numpy())
    line = f" | ensemble on test {np.mean(np.mean(probs, axis=0).argmax(-1) == task.test_y):.3f}"
    target = getattr(alg, "target", None)
    if target is not None:
        on_labels = target[0][:, labels.cpu().numpy()]  # one exchanged position per public article (distill_positions: 1)
        if on_labels.shape[0] == task.public_y.shape[0]:
            line += (f" | aggregate on public {np.mean(on_labels.argmax(-1) == task.public_y):.3f}"
                     f" (largest label probability {on_labels.max(-1).mean():.2f})")
    return line


if __name__ == "__main__":
    main()

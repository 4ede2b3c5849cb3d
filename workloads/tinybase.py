"""Pretrained tiny bases: causal-LM pretraining on held-out corpus text, cached per machine.

A LoRA adapter on a randomly initialised model barely learns, and a base
"warmed" on labelled articles already knows the task, so neither tells the
algorithms apart.  A tiny base is instead pretrained with the plain causal-LM
objective on the *base articles*: a fixed set of articles chosen without the
scenario seed (:func:`workloads.data.base_article_indices`) and removed from every split used
later (test, public, private, warm-up).  The BPE tokenizer of a tiny client is
trained on the same text, so the tokenizer and the base do not depend on the
scenario seed either, and one pretraining per machine serves every run.  The
label words and the separator are special tokens that never occur in this
text: the base has no label knowledge.

Bases are cached under the fedwave cache folder (``$FEDWAVE_CACHE`` or
``~/.cache/fedwave``), in ``tiny-bases/<name>-<key>``, where the key hashes
everything that determines the weights: the model config, the tokenizer, the
token stream, seed, steps, batch, learning rate, torch threads and the library
versions.  A cache entry is written atomically (temporary folder + rename), so
a killed pretraining leaves nothing behind that could be read as finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workloads.cache import cache_root
from workloads.models import ModelSpec, build_base

__all__ = ["base_key", "pretrained_base", "BASES_DIR", "FORMAT"]

BASES_DIR = "tiny-bases"
FORMAT = 1  # bump when the pretraining recipe changes in a way the key does not see
_MEMORY: dict[str, dict[str, torch.Tensor]] = {}


def _versions() -> dict[str, str]:
    import tokenizers
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def base_key(spec: ModelSpec, tokenizer_json: str, texts: Sequence[str], steps: int, batch: int, lr: float,
             seed: int) -> dict[str, Any]:
    """Everything that determines a pretrained base's weights (hashed into its cache name).

    The text and the tokenizer determine the token stream, so a cache hit
    needs neither tokenising nor training.
    """
    text = hashlib.sha256()
    for t in texts:
        text.update(t.encode())
        text.update(b"\x00")
    return {
        "format": FORMAT,
        "spec": asdict(spec),
        "tokenizer_sha256": hashlib.sha256(tokenizer_json.encode()).hexdigest(),
        "text_sha256": text.hexdigest(),
        "text_articles": len(texts),
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "threads": torch.get_num_threads(),
        "versions": _versions(),
    }


def _folder(spec: ModelSpec, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    name = f"{spec.family}-h{spec.hidden_size}-l{spec.layers}-a{spec.heads}-v{spec.vocab_size}-n{spec.max_len}-{digest}"
    return cache_root() / BASES_DIR / name


def _pretrain(model: torch.nn.Module, stream: np.ndarray, spec: ModelSpec, steps: int, batch: int, lr: float, seed: int,
              quiet: bool) -> float:
    """``steps`` AdamW steps of next-token loss on random windows of ``stream``; returns the last loss."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    gen = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(stream, dtype=torch.long)
    width = spec.max_len
    if data.numel() <= width:
        raise ValueError(f"the base articles hold {data.numel()} tokens, fewer than one window of {width}")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warm = max(1, steps // 20)
    # Linear warm-up, then cosine decay to a tenth: the usual recipe, stable at a high peak rate.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps)))
    )
    offsets = torch.arange(width)
    model.train()
    loss_value = float("nan")
    label = f"pretraining tiny {spec.family} base (h{spec.hidden_size}, {spec.layers} layers, V {spec.vocab_size})"
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TextColumn("loss {task.fields[loss]:.2f}"), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True, disable=quiet) as bar:
        task = bar.add_task(label, total=steps, loss=float("nan"))
        for step in range(steps):
            start = torch.randint(0, data.numel() - width, (batch,), generator=gen)
            x = data[start[:, None] + offsets]
            loss = model(input_ids=x, labels=x).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_value = float(loss.detach())
            if step % 10 == 9 or step == steps - 1:
                bar.update(task, completed=step + 1, loss=loss_value)
    model.eval()
    return loss_value


def pretrained_base(
    spec: ModelSpec, tokenizer_json: str, texts: Sequence[str], encode: Callable[[str], list[int]], *, steps: int,
    batch: int, lr: float, seed: int, quiet: bool | None = None,
) -> torch.nn.Module:
    """The base for ``spec`` pretrained on ``texts`` (the base articles, each tokenised by ``encode``
    and joined into one stream), from the cache if there.

    steps = 0 gives the random initialisation (nothing cached).  ``quiet``
    (default: stderr is not a terminal) hides the progress bar.
    """
    model = build_base(spec, seed)
    if steps == 0:
        return model
    key = base_key(spec, tokenizer_json, texts, steps, batch, lr, seed)
    folder = _folder(spec, key)
    weights = folder / "weights.pt"
    name = folder.name
    if name not in _MEMORY and weights.exists():
        _MEMORY[name] = torch.load(weights, weights_only=True)
    if name in _MEMORY:
        model.load_state_dict(_MEMORY[name])
        model.eval()
        return model
    started = time.perf_counter()
    import sys

    stream = np.asarray([i for t in texts for i in encode(t)], dtype=np.int64)
    key["text_tokens"] = int(stream.size)  # recorded in meta.json, not part of the name
    loss = _pretrain(model, stream, spec, steps, batch, lr, seed, quiet=not sys.stderr.isatty() if quiet is None else quiet)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    meta = {"kind": "tiny base", "key": key, "final_loss": loss, "wall_s": round(time.perf_counter() - started, 2),
            "params": sum(p.numel() for p in model.parameters())}
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{name}."))
    try:
        torch.save(state, tmp / "weights.pt")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        try:
            os.replace(tmp, folder)
        except OSError:
            # Another process finished the same base first: same key, same weights; keep theirs.
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _MEMORY[name] = state
    return model

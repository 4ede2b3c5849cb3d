"""Frozen-prefix activation cache: the hidden states entering layer L, computed once, and forwards from L up.

When every trainable parameter of a client's model lies in transformer layer
L or above (or in the final norm and LM head), the hidden state entering
layer L for a fixed text never changes while it trains.  :func:`trainable_floor`
finds L; :func:`prefix_hidden` computes those states once (the model's own
forward, stopped by a pre-hook on layer L) and keeps them on disk under
``<cache>/prefix/<key>/`` (``hidden.npy``, memory-mapped; ``meta.json``), keyed by a
SHA-256 of everything they depend on: the frozen weights below L, the model
config, L, the autocast dtype, the token ids (so the tokenizer), and the
torch and transformers versions.  An entry is written into a ``.``-named
temporary folder and renamed into place, so a crash leaves no half entry and
two processes building the same entry both end with one whole copy.

:func:`tail` makes the model's own forward run layers L.. only: the layer
list is the slice ``[L:]`` and the cached state goes in as ``inputs_embeds``
(GPT-2's position embedding, already inside the cached state, is zeroed), so
position ids, the causal mask and the rotary embeddings are those the full
forward computes for the same sequence length (fedwave's sequences are fixed
length, no padding, no attention mask).

``FEDWAVE_PREFIX_CACHE_GB`` (default 10) bounds the disk the entries take; a
new entry past it is kept in memory for the run and a one-line message says
so on stderr.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workloads.cache import cache_root
from workloads.models import layer_index

__all__ = ["trainable_floor", "prefix_hidden", "tail", "contiguous_head", "prefix_key", "prefix_bytes_limit", "weights_fingerprint", "depth"]

_CHUNK_ROWS = 64  # sequences per prefix forward: bounds the attention memory of a long text set
_WARNED: set[str] = set()


def _base(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _stack(model: Any) -> tuple[Any, str, str]:
    """(module holding the layer list, its attribute, the final norm's attribute) of a causal LM."""
    base = _base(model)
    inner = getattr(base, "model", None)
    if inner is not None and hasattr(inner, "layers") and hasattr(inner, "norm"):
        return inner, "layers", "norm"  # Llama, Qwen2 (SmolLM2)
    inner = getattr(base, "transformer", None)
    if inner is not None and hasattr(inner, "h") and hasattr(inner, "ln_f"):
        return inner, "h", "ln_f"  # GPT-2
    raise ValueError(f"no known layer stack in a {type(base).__name__}")


def depth(model: Any) -> int:
    owner, attr, _ = _stack(model)
    return len(getattr(owner, attr))


def _has_dropout(model: Any) -> bool:
    cfg = _base(model).config
    rates = [getattr(cfg, k, 0.0) or 0.0 for k in ("attention_dropout", "attn_pdrop", "embd_pdrop", "resid_pdrop", "hidden_dropout")]
    modules = any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules())
    return modules or any(float(r) > 0 for r in rates)


def trainable_floor(model: Any) -> int | None:
    """The lowest layer L with a trainable parameter, when caching the states entering L is exact; else None.

    None when a parameter below the stack (an embedding, GPT-2's position
    embedding) trains, when the model has dropout (a cached state would
    freeze one draw), when its layers are not all of one attention type
    (Qwen2's sliding-window mix: the slice would misread ``layer_types``), or
    when L is 0 (nothing to skip).  Only the head training gives L = depth.
    """
    try:
        owner, attr, norm = _stack(model)
    except ValueError:
        return None
    n = len(getattr(owner, attr))
    types = getattr(_base(model).config, "layer_types", None)
    if types is not None and len(set(types)) > 1:
        return None
    if _has_dropout(model):
        return None
    lowest = n
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        idx = layer_index(name)
        if idx is not None:
            lowest = min(lowest, idx)
        elif not (f".{norm}." in f".{name}" or ".lm_head." in f".{name}"):
            return None  # trainable below the stack
    return lowest if lowest > 0 else None


class _Zero(torch.nn.Module):
    """GPT-2's position embedding while a cached state (which already holds it) goes in."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros((*position_ids.shape, self.width))


def _contiguous_input(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (args[0].contiguous(), *args[1:])


def contiguous_head(model: Any) -> Any:
    """Hand the LM head a contiguous input; returns the hook handle (``.remove()`` undoes it).

    transformers gives the head ``hidden[:, -keep:, :]``, a strided view, and
    PyTorch's CPU linear runs such a 3-D view about 10x slower than the same
    values laid out contiguously (SmolLM2's 49,152 x 576 head: 1.7 s against
    0.16 s for 100 rows, one thread).  The values are the same; the sums may
    round differently in the last bit.
    """
    return _base(model).lm_head.register_forward_pre_hook(_contiguous_input)


@contextlib.contextmanager
def tail(model: Any, layer: int) -> Iterator[None]:
    """While open, ``model(inputs_embeds=h)`` runs layers ``layer..`` on h [N, T, H], the state entering ``layer``.

    The head gets a contiguous input (:func:`contiguous_head`); full forwards keep
    transformers' strided one, so records without a prefix cache stay as they were.
    """
    owner, attr, _ = _stack(model)
    layers = owner._modules[attr]
    wpe = owner._modules.get("wpe")
    owner._modules[attr] = torch.nn.ModuleList(list(layers)[layer:])
    if wpe is not None:
        owner._modules["wpe"] = _Zero(int(wpe.weight.shape[1]))
    handle = contiguous_head(model)
    try:
        yield
    finally:
        handle.remove()
        owner._modules[attr] = layers
        if wpe is not None:
            owner._modules["wpe"] = wpe


class _Stop(Exception):
    pass


def _compute(model: Any, ids: torch.Tensor, layer: int, autocast: Callable[[], Any]) -> np.ndarray:
    """[N, T, H] float32: the state entering ``layer`` (the final norm's input when layer = depth) for ``ids`` [N, T]."""
    owner, attr, norm = _stack(model)
    stack = getattr(owner, attr)
    target = stack[layer] if layer < len(stack) else getattr(owner, norm)
    got: list[torch.Tensor] = []

    def grab(_module: Any, args: tuple[Any, ...]) -> None:
        got.append(args[0].detach().float().cpu())
        raise _Stop

    handle = target.register_forward_pre_hook(grab)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, ids.shape[0], _CHUNK_ROWS):
                with contextlib.suppress(_Stop), autocast():
                    model(input_ids=ids[start : start + _CHUNK_ROWS])
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(got).numpy() if got else np.zeros((0, ids.shape[1], 0), dtype=np.float32)


def weights_fingerprint(model: Any, layer: int) -> str:
    """SHA-256 of the config and every frozen tensor the states entering ``layer`` depend on."""
    owner, attr, norm = _stack(model)
    base = _base(model)
    h = hashlib.sha256(base.config.to_json_string(use_diff=False).encode())
    for name, t in [*base.named_parameters(), *base.named_buffers()]:
        idx = layer_index(name)
        if (idx is not None and idx >= layer) or f".{norm}." in f".{name}" or name.startswith("lm_head."):
            continue
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def prefix_key(fingerprint: str, layer: int, ids: torch.Tensor, amp: torch.dtype | None) -> str:
    import transformers

    h = hashlib.sha256(f"fedwave-prefix-v1|{fingerprint}|{layer}|{amp}|{torch.__version__}|{transformers.__version__}".encode())
    a = ids.detach().cpu().numpy()
    h.update(f"{a.dtype}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:32]


def prefix_bytes_limit() -> int:
    return int(float(os.environ.get("FEDWAVE_PREFIX_CACHE_GB", "10")) * 1e9)


def _folder() -> Path:
    return cache_root() / "prefix"


def _used_bytes(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.parent.name.startswith("."))


def _load(entry: Path) -> torch.Tensor | None:
    try:
        arr = np.load(entry / "hidden.npy", mmap_mode="c")  # copy-on-write: torch wants a writable array
    except (OSError, ValueError):
        return None
    return torch.from_numpy(arr)


def _discard(entry: Path) -> None:
    """Move a bad entry out of the way first (one rename), then delete it: readers never see half of it."""
    with contextlib.suppress(OSError):
        trash = Path(tempfile.mkdtemp(prefix=".discard-", dir=entry.parent))
        os.rename(entry, trash / entry.name)
        shutil.rmtree(trash, ignore_errors=True)


def prefix_hidden(model: Any, ids: torch.Tensor, layer: int, fingerprint: str, autocast: Callable[[], Any],
                  amp: torch.dtype | None) -> torch.Tensor:
    """[N, T, H] float32 states entering ``layer`` for ``ids`` [N, T]: from the disk cache, or computed and stored."""
    key = prefix_key(fingerprint, layer, ids, amp)
    folder = _folder()
    entry = folder / key
    if entry.is_dir():
        got = _load(entry)
        if got is not None and tuple(got.shape[:2]) == tuple(ids.shape):
            return got
        _discard(entry)  # unreadable (a damaged disk, a foreign file): rebuilt below
    hidden = _compute(model, ids, layer, autocast)
    limit = prefix_bytes_limit()
    used = _used_bytes(folder)
    if used + hidden.nbytes > limit:
        if "full" not in _WARNED:
            _WARNED.add("full")
            print(f"fedwave: the prefix cache {folder} holds {used / 1e9:.2f} GB and FEDWAVE_PREFIX_CACHE_GB allows "
                  f"{limit / 1e9:.2f}; new prefix states stay in memory for this run (`fedwave cache clear prefix` "
                  "frees the folder)", file=sys.stderr)
        return torch.from_numpy(hidden)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder))
        np.save(tmp / "hidden.npy", hidden)
        meta = {"kind": "prefix activations", "layer": layer, "shape": list(hidden.shape), "weights": fingerprint[:16]}
        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(tmp, entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process stored the same entry first
    except OSError as err:
        print(f"fedwave: could not store prefix states in {folder} ({err}); computing them in memory", file=sys.stderr)
        return torch.from_numpy(hidden)
    got = _load(entry)
    return got if got is not None else torch.from_numpy(hidden)

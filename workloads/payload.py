"""Real encoders and decoders for what clients and server exchange.

Every ``encode_*`` returns ``bytes``; the size on the air is ``8 * len(bytes)``
and the matching ``decode_*`` recovers the content up to the stated value
quantisation.  Three kinds of message:

- sparse Top-k logits: per public position the k largest entries of a
  vocabulary-sized vector (indices + values);
- named dense arrays: LoRA weights, hidden projections, aggregated targets.

Index coding for Top-k:

- ``fixed``: every index at ceil(log2 V) bits;
- ``entropy``: each position's index *set* (order carries no information, the
  values travel in index order) ranked in the combinatorial number system and
  all positions packed as one mixed-radix integer, so P positions cost
  ceil(P log2 C(V, k)) bits: the information bound for a uniformly unknown
  k-subset, plus under one bit.

Value precision: ``fp16`` (IEEE half) or ``int8`` (uniform over each
position's [min, max], carried as two fp16 numbers; error <= (max - min) / 510).
Pure numpy; no torch.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "TopK",
    "encode_topk",
    "decode_topk",
    "topk_bits",
    "value_bits",
    "index_bits_fixed",
    "bound_bits_per_entry",
    "encode_arrays",
    "decode_arrays",
    "encode_masked",
    "decode_masked",
    "pack_parts",
    "unpack_parts",
]

Precision = Literal["fp16", "int8"]
IndexCoding = Literal["fixed", "entropy"]

_TOPK_MAGIC = 0xA1
_ARRAYS_MAGIC = 0xA2
_PRECISIONS: tuple[str, ...] = ("fp16", "int8")
_CODINGS: tuple[str, ...] = ("fixed", "entropy")
# magic, precision, coding, V, P, k
_TOPK_HEADER = struct.Struct("<BBBIII")


@dataclass(frozen=True)
class TopK:
    """Sparse logits over ``vocab_size`` entries at P positions.

    indices : [P, k] int64, strictly increasing along each row
    values : [P, k] float32, the entries at those indices
    """

    indices: np.ndarray
    values: np.ndarray
    vocab_size: int

    @property
    def positions(self) -> int:
        return int(self.indices.shape[0])

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @staticmethod
    def from_dense(dense: np.ndarray, k: int) -> "TopK":
        """The k largest entries of each row of ``dense`` [P, V] (ties: lower index first)."""
        if dense.ndim != 2 or not 1 <= k <= dense.shape[1]:
            raise ValueError(f"need dense [P, V] and 1 <= k <= V, got shape {dense.shape} and k={k}")
        # A stable argsort on the negated values makes ties deterministic.
        top = np.argsort(-dense, axis=1, kind="stable")[:, :k]
        idx = np.sort(top, axis=1)
        return TopK(idx.astype(np.int64), np.take_along_axis(dense, idx, axis=1).astype(np.float32), dense.shape[1])


# --------------------------------------------------------------------------- sizes


def value_bits(precision: str) -> int:
    if precision not in _PRECISIONS:
        raise ValueError(f"unknown value precision {precision!r}; known: {', '.join(_PRECISIONS)}")
    return 16 if precision == "fp16" else 8


def index_bits_fixed(vocab_size: int) -> int:
    return max(1, math.ceil(math.log2(vocab_size)))


def _log2_comb(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def bound_bits_per_entry(vocab_size: int, k: int, precision: str) -> float:
    """Information bound per entry: log2 C(V, k) / k + value bits."""
    return _log2_comb(vocab_size, k) / k + value_bits(precision)


def _index_payload_bits(vocab_size: int, positions: int, k: int, coding: str) -> int:
    if k == vocab_size:
        return 0  # dense: the index set is implied
    if coding == "fixed":
        return positions * k * index_bits_fixed(vocab_size)
    if coding == "entropy":
        return (math.comb(vocab_size, k) ** positions - 1).bit_length()
    raise ValueError(f"unknown index coding {coding!r}; known: {', '.join(_CODINGS)}")


def topk_bits(vocab_size: int, positions: int, k: int, precision: str, coding: str) -> int:
    """Exact encoded size [bit] of a Top-k message, without encoding it."""
    body = _index_payload_bits(vocab_size, positions, k, coding) + positions * k * value_bits(precision)
    if precision == "int8":
        body += positions * 32  # per-position min and max as fp16
    return 8 * (_TOPK_HEADER.size + (body + 7) // 8)


# --------------------------------------------------------------------------- bit packing


def _pack_uint(values: np.ndarray, width: int) -> np.ndarray:
    """Big-endian bits of each value at ``width`` bits, flattened, as a 0/1 uint8 array."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return ((values.astype(np.uint64)[:, None] >> shifts) & np.uint64(1)).astype(np.uint8).ravel()


def _unpack_uint(bits: np.ndarray, width: int, count: int) -> np.ndarray:
    b = bits[: width * count].reshape(count, width).astype(np.uint64)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return (b << shifts).sum(axis=1).astype(np.int64)


def _rank_subset(row: np.ndarray, vocab_size: int) -> int:
    """Combinatorial number system: sorted c_0 < ... < c_{k-1} -> sum C(c_i, i + 1).

    Walked from the top with the same exact ratio updates as :func:`_unrank_subset`.
    """
    k = len(row)
    c = vocab_size - 1
    b = math.comb(c, k)
    rank = 0
    for i in range(k, 0, -1):
        target = int(row[i - 1])
        while c > target:
            b = b * (c - i) // c
            c -= 1
        rank += b
        if i > 1:
            b = b * i // c if c > 0 else 0
            c -= 1
    return rank


def _unrank_subset(rank: int, vocab_size: int, k: int) -> list[int]:
    """Inverse of :func:`_rank_subset`: greedy from the top, largest c with C(c, i) <= rank.

    The candidate only moves down, and C(c, i) is updated by exact small-integer
    ratios (C(c-1, i) = C(c, i)(c-i)/c; C(c-1, i-1) = C(c, i) i/c), so a position
    costs O(V + k) cheap big-int steps instead of O(k log V) fresh binomials.
    """
    out = [0] * k
    c = vocab_size - 1
    b = math.comb(c, k)
    for i in range(k, 0, -1):
        while b > rank:
            b = b * (c - i) // c
            c -= 1
        out[i - 1] = c
        rank -= b
        if i > 1:
            b = b * i // c if c > 0 else 0
            c -= 1
    return out


def _int_to_bits(value: int, nbits: int) -> np.ndarray:
    if nbits == 0:
        return np.zeros(0, dtype=np.uint8)
    raw = value.to_bytes((nbits + 7) // 8, "big")
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
    return bits[len(bits) - nbits :]


def _bits_to_int(bits: np.ndarray) -> int:
    if bits.size == 0:
        return 0
    pad = (-bits.size) % 8
    raw = np.packbits(np.concatenate([np.zeros(pad, dtype=np.uint8), bits])).tobytes()
    return int.from_bytes(raw, "big")


# --------------------------------------------------------------------------- Top-k


def encode_topk(msg: TopK, precision: str = "fp16", coding: str = "fixed") -> bytes:
    """Encode sparse logits; see the module docstring for the format."""
    vbits = value_bits(precision)
    if coding not in _CODINGS:
        raise ValueError(f"unknown index coding {coding!r}; known: {', '.join(_CODINGS)}")
    idx, val = np.asarray(msg.indices), np.asarray(msg.values, dtype=np.float32)
    p, k, v = msg.positions, msg.k, msg.vocab_size
    if idx.shape != val.shape or not 1 <= k <= v:
        raise ValueError(f"indices {idx.shape} and values {val.shape} must match, with 1 <= k <= V={v}")
    if k > 1 and not np.all(np.diff(idx, axis=1) > 0):
        raise ValueError("indices must be strictly increasing along each position")
    if idx.size and (idx.min() < 0 or idx.max() >= v):
        raise ValueError(f"indices must lie in [0, {v})")
    if not np.all(np.isfinite(val)):
        raise ValueError("values must be finite")
    parts: list[np.ndarray] = []
    if k < v and coding == "fixed":
        parts.append(_pack_uint(idx.ravel(), index_bits_fixed(v)))
    elif k < v:
        radix = math.comb(v, k)
        total = 0
        for row in idx[::-1]:  # Horner: position 0 is the least significant digit
            total = total * radix + _rank_subset(row, v)
        parts.append(_int_to_bits(total, _index_payload_bits(v, p, k, coding)))
    if precision == "fp16":
        parts.append(np.unpackbits(val.astype(">f2").view(np.uint8)))
    else:
        lo = val.min(axis=1).astype(np.float16)
        hi = val.max(axis=1).astype(np.float16)
        # The range is taken from the fp16-rounded bounds so the decoder sees the same grid.
        lo32, hi32 = lo.astype(np.float32), hi.astype(np.float32)
        span = np.where(hi32 > lo32, hi32 - lo32, 1.0)
        q = np.clip(np.rint((val - lo32[:, None]) / span[:, None] * 255.0), 0, 255).astype(np.uint8)
        parts.append(np.unpackbits(np.stack([lo, hi], axis=1).astype(">f2").view(np.uint8)))
        parts.append(np.unpackbits(q.ravel()))
    body = np.packbits(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint8)
    head = _TOPK_HEADER.pack(_TOPK_MAGIC, _PRECISIONS.index(precision), _CODINGS.index(coding), v, p, k)
    out = head + body.tobytes()
    if len(out) * 8 != topk_bits(v, p, k, precision, coding):
        raise RuntimeError("Top-k size formula and encoder disagree")
    return out


def decode_topk(data: bytes) -> TopK:
    magic, pcode, ccode, v, p, k = _TOPK_HEADER.unpack_from(data)
    if magic != _TOPK_MAGIC:
        raise ValueError(f"not a Top-k message (magic 0x{magic:02x})")
    precision, coding = _PRECISIONS[pcode], _CODINGS[ccode]
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8, offset=_TOPK_HEADER.size))
    nidx = _index_payload_bits(v, p, k, coding)
    if k == v:
        idx = np.tile(np.arange(v, dtype=np.int64), (p, 1))
    elif coding == "fixed":
        idx = _unpack_uint(bits, index_bits_fixed(v), p * k).reshape(p, k)
    else:
        total = _bits_to_int(bits[:nidx])
        radix = math.comb(v, k)
        rows = []
        for _ in range(p):
            total, rank = divmod(total, radix)
            rows.append(_unrank_subset(rank, v, k))
        idx = np.asarray(rows, dtype=np.int64).reshape(p, k)
    rest = bits[nidx:]
    if precision == "fp16":
        val = np.packbits(rest[: 16 * p * k]).view(">f2").astype(np.float32).reshape(p, k)
    else:
        bounds = np.packbits(rest[: 32 * p]).view(">f2").astype(np.float32).reshape(p, 2)
        q = np.packbits(rest[32 * p : 32 * p + 8 * p * k]).astype(np.float32).reshape(p, k)
        span = np.where(bounds[:, 1] > bounds[:, 0], bounds[:, 1] - bounds[:, 0], 1.0)
        val = bounds[:, :1] + q / 255.0 * span[:, None]
        val = np.where((bounds[:, 1] > bounds[:, 0])[:, None], val, bounds[:, :1])
    return TopK(idx, val.astype(np.float32), v)


# --------------------------------------------------------------------------- named arrays


def encode_arrays(arrays: Mapping[str, np.ndarray], precision: str = "fp16") -> bytes:
    """Named float arrays (LoRA weights, hidden projections) in name order.

    Per array: name length (u16), name (utf-8), ndim (u8), shape (u32 each),
    then the values: fp16, or int8 on [min, max] with both bounds as fp32.
    """
    vbits = value_bits(precision)
    out = bytearray(struct.pack("<BBI", _ARRAYS_MAGIC, _PRECISIONS.index(precision), len(arrays)))
    for name in sorted(arrays):
        a = np.asarray(arrays[name], dtype=np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"array {name!r} has non-finite values")
        key = name.encode()
        out += struct.pack("<H", len(key)) + key + struct.pack("<B", a.ndim) + struct.pack(f"<{a.ndim}I", *a.shape)
        if vbits == 16:
            out += a.astype("<f2").tobytes()
        else:
            lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
            span = hi - lo if hi > lo else 1.0
            out += struct.pack("<ff", lo, hi)
            out += np.clip(np.rint((a - lo) / span * 255.0), 0, 255).astype(np.uint8).tobytes()
    return bytes(out)


def decode_arrays(data: bytes) -> dict[str, np.ndarray]:
    magic, pcode, count = struct.unpack_from("<BBI", data)
    if magic != _ARRAYS_MAGIC:
        raise ValueError(f"not an arrays message (magic 0x{magic:02x})")
    precision = _PRECISIONS[pcode]
    pos = struct.calcsize("<BBI")
    out: dict[str, np.ndarray] = {}
    for _ in range(count):
        (n,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos : pos + n].decode()
        pos += n
        (ndim,) = struct.unpack_from("<B", data, pos)
        pos += 1
        shape = struct.unpack_from(f"<{ndim}I", data, pos)
        pos += 4 * ndim
        size = int(np.prod(shape)) if ndim else 1
        if precision == "fp16":
            a = np.frombuffer(data, dtype="<f2", count=size, offset=pos).astype(np.float32)
            pos += 2 * size
        else:
            lo, hi = struct.unpack_from("<ff", data, pos)
            pos += 8
            q = np.frombuffer(data, dtype=np.uint8, count=size, offset=pos).astype(np.float32)
            pos += size
            a = (lo + q / 255.0 * (hi - lo)).astype(np.float32) if hi > lo else np.full(size, lo, np.float32)
        out[name] = a.reshape(shape)
    if pos != len(data):
        raise ValueError(f"arrays message has {len(data) - pos} trailing bytes")
    return out


# --------------------------------------------------------------------------- masked dense, containers

_MASKED_HEADER = struct.Struct("<BII")


def encode_masked(values: np.ndarray, mask: np.ndarray) -> bytes:
    """A [P, V] array known only on ``mask``: the mask as a bitmap, then fp16 values in row-major order.

    Used downlink for an aggregate whose support differs from position to position.
    """
    values, mask = np.asarray(values, dtype=np.float32), np.asarray(mask, dtype=bool)
    if values.shape != mask.shape or values.ndim != 2:
        raise ValueError(f"values {values.shape} and mask {mask.shape} must be the same [P, V] shape")
    sent = values[mask]
    if not np.all(np.isfinite(sent)):
        raise ValueError("masked values must be finite")
    head = _MASKED_HEADER.pack(0xA3, *values.shape)
    return head + np.packbits(mask.ravel()).tobytes() + sent.astype("<f2").tobytes()


def decode_masked(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    magic, p, v = _MASKED_HEADER.unpack_from(data)
    if magic != 0xA3:
        raise ValueError(f"not a masked message (magic 0x{magic:02x})")
    nmask = (p * v + 7) // 8
    mask = np.unpackbits(np.frombuffer(data, np.uint8, nmask, _MASKED_HEADER.size))[: p * v].astype(bool).reshape(p, v)
    sent = np.frombuffer(data, "<f2", int(mask.sum()), _MASKED_HEADER.size + nmask).astype(np.float32)
    values = np.zeros((p, v), dtype=np.float32)
    values[mask] = sent
    return values, mask


def pack_parts(parts: list[bytes]) -> bytes:
    """Several messages in one upload: a u32 length before each."""
    return b"".join(struct.pack("<I", len(b)) + b for b in parts)


def unpack_parts(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out

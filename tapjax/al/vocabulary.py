"""Vocabularies for sequence labeling: words, characters and tags, GloVe vectors, and a
corpus encoded as id arrays (:class:`Vocabs`, :class:`Encoded`).

Word ids: 0 is padding, 1 the unknown word. Words are normalised (digits -> ``0``) before
lookup; the vocabulary is built from the *labeled* sentences only, as a user annotating
a pool would, so words first seen in the unlabeled pool or the test set map to ``<unk>``.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
from typing import Iterable, Optional, Sequence

import numpy as np

from tapjax.al.corpora import Tagged

PAD, UNK = 0, 1
_DIGITS = re.compile(r"\d")


def normalise(word: str) -> str:
    return _DIGITS.sub("0", word)


class WordVocab:
    """Token (word or character) <-> id; ids 0 and 1 are ``<pad>`` and ``<unk>``; unknown tokens map to 1."""

    def __init__(self, tokens: Iterable[str]):
        self.tokens = ["<pad>", "<unk>"] + [t for t in tokens if t not in ("<pad>", "<unk>")]
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        return np.asarray([self.ids.get(t, UNK) for t in tokens], np.int32)


def word_vocab(sentences: Iterable[Sequence[str]], min_count: int = 1) -> WordVocab:
    """Normalised words occurring at least ``min_count`` times, most frequent first."""
    counts = collections.Counter(normalise(w) for s in sentences for w in s)
    return WordVocab(w for w, c in counts.most_common() if c >= min_count)


def capacity(sentences: Iterable[Sequence[str]]) -> int:
    """Rows an embedding table needs for any vocabulary built from (a subset of) ``sentences``."""
    return len({normalise(w) for s in sentences for w in s}) + 2


def char_vocab(sentences: Iterable[Sequence[str]]) -> WordVocab:
    counts = collections.Counter(c for s in sentences for w in s for c in w)
    return WordVocab(c for c, _ in counts.most_common())


class TagVocab:
    """The tag set (``O`` is id 0); built from the annotation scheme, i.e. all training tags."""

    def __init__(self, tag_sentences: Iterable[Sequence[str]]):
        tags = sorted({t for s in tag_sentences for t in s} - {"O"})
        self.tags = ["O"] + tags
        self.ids = {t: i for i, t in enumerate(self.tags)}

    def __len__(self) -> int:
        return len(self.tags)

    def encode(self, tags: Sequence[str]) -> np.ndarray:
        return np.asarray([self.ids.get(t, 0) for t in tags], np.int32)

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tags[i] for i in ids]


def load_glove(path: str | os.PathLike, vocab: WordVocab, dim: int, seed: int = 0) -> np.ndarray:
    """An embedding matrix ``[len(vocab), dim]`` from a GloVe text file (``word v1 ... v_dim``).

    Words absent from the file (and ``<unk>``) get small random vectors; ``<pad>`` is zero.
    Lookup tries the word, then its lower case.
    """
    table = np.random.default_rng(seed).normal(0.0, 0.1, (len(vocab), dim)).astype(np.float32)
    table[PAD] = 0.0
    wanted = {}
    for i, w in enumerate(vocab.tokens[2:], 2):
        wanted.setdefault(w, i)
        wanted.setdefault(w.lower(), i)
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            word, *values = line.rstrip().split(" ")
            if len(values) != dim:
                raise ValueError(f"{path}:{line_no}: {len(values)} values, expected dim={dim}")
            if word in wanted:
                table[wanted[word]] = np.asarray(values, np.float32)
    return table


@dataclasses.dataclass
class Encoded:
    """A corpus as id arrays under one set of vocabularies (``chars`` is None without a char encoder)."""

    words: list[np.ndarray]
    chars: Optional[list[list[np.ndarray]]]
    tags: list[np.ndarray]
    gold: list[list[str]]

    def __len__(self):
        return len(self.words)


@dataclasses.dataclass
class Vocabs:
    """The word, character (None without a char encoder) and tag vocabularies of one round."""

    words: WordVocab
    chars: Optional[WordVocab]
    tags: TagVocab

    @classmethod
    def build(cls, labeled: Tagged, all_train_tags, min_count: int, use_chars: bool) -> "Vocabs":
        """Words (and chars) from the labeled sentences; tags from the annotation scheme."""
        return cls(word_vocab(labeled.words, min_count), char_vocab(labeled.words) if use_chars else None,
                   TagVocab(all_train_tags))

    def encode(self, corpus: Tagged) -> Encoded:
        words = [self.words.encode([normalise(w) for w in s]) for s in corpus.words]
        chars = None if self.chars is None else [[self.chars.encode(w) for w in s] for s in corpus.words]
        return Encoded(words, chars, [self.tags.encode(t) for t in corpus.tags], corpus.tags)

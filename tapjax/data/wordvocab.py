"""Word, character and tag vocabularies for sequence labeling, GloVe vectors, padded batches.

Word ids: 0 is padding, 1 the unknown word. Words are normalised (digits -> ``0``) before
lookup; the vocabulary is built from the *labeled* sentences only, as a user annotating
a pool would, so words first seen in the unlabeled pool or the test set map to ``<unk>``.
"""

from __future__ import annotations

import collections
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

PAD, UNK = 0, 1
_DIGITS = re.compile(r"\d")


def normalise(word: str) -> str:
    return _DIGITS.sub("0", word)


class Vocab:
    """Token <-> id; ids 0 and 1 are ``<pad>`` and ``<unk>``; unknown tokens map to 1."""

    def __init__(self, tokens: Iterable[str]):
        self.tokens = ["<pad>", "<unk>"] + [t for t in tokens if t not in ("<pad>", "<unk>")]
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        return np.asarray([self.ids.get(t, UNK) for t in tokens], np.int32)


def word_vocab(sentences: Iterable[Sequence[str]], min_count: int = 1) -> Vocab:
    """Normalised words occurring at least ``min_count`` times, most frequent first."""
    counts = collections.Counter(normalise(w) for s in sentences for w in s)
    return Vocab(w for w, c in counts.most_common() if c >= min_count)


def capacity(sentences: Iterable[Sequence[str]]) -> int:
    """Rows an embedding table needs for any vocabulary built from (a subset of) ``sentences``."""
    return len({normalise(w) for s in sentences for w in s}) + 2


def char_vocab(sentences: Iterable[Sequence[str]]) -> Vocab:
    counts = collections.Counter(c for s in sentences for w in s for c in w)
    return Vocab(c for c, _ in counts.most_common())


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


def load_glove(path: str | os.PathLike, vocab: Vocab, dim: int, seed: int = 0) -> np.ndarray:
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


def bucket_length(n: int, buckets: Sequence[int]) -> int:
    """The smallest bucket length ``>= n`` (the next power of two above the largest bucket)."""
    for b in buckets:
        if n <= b:
            return b
    return 1 << (n - 1).bit_length()


def pad_batch(words, chars, tags, index, length: int, rows: int, max_word: int) -> dict:
    """Pads lists of per-sentence id arrays to ``[rows, length]`` (chars ``[rows, length, max_word]``).

    Rows past the given sentences are padding (mask 0, index -1).
    """
    batch = {
        "words": np.zeros((rows, length), np.int32),
        "tags": np.zeros((rows, length), np.int32),
        "mask": np.zeros((rows, length), np.float32),
        "index": np.full((rows,), -1, np.int32),
    }
    if chars is not None:
        batch["chars"] = np.zeros((rows, length, max_word), np.int32)
    for r, (w, i) in enumerate(zip(words, index)):
        batch["words"][r, : len(w)] = w
        batch["mask"][r, : len(w)] = 1.0
        batch["index"][r] = i
        if tags is not None:
            batch["tags"][r, : len(w)] = tags[r]
        if chars is not None:
            for t, cs in enumerate(chars[r]):
                cs = cs[:max_word]
                batch["chars"][r, t, : len(cs)] = cs
    return batch

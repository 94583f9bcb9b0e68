"""Vocabularies for sequence labeling: words, characters and tags, pretrained word vectors,
and a corpus encoded as id arrays (:class:`Vocabs`, :class:`Encoded`).

Word ids: 0 is padding, 1 the unknown word. Words are normalised (digits -> ``0``) before
lookup. The word and character vocabularies hold the text the learner may see (W-BADGE
paper §5.3, pool-based AL): every training sentence, labeled or not (only an unlabeled
sentence's tags cost annotation, its words are in the pool), and the validation sentences,
never the test set's. So one vocabulary serves every round of a run, and only words first
seen in the test set map to ``<unk>`` (the character encoder still spells them out).

Pretrained vectors (§5.2: 400-dim embeddings from GloVe and Kazuma, i.e. 300-dim GloVe
word vectors and the 100-dim character n-gram vectors of Hashimoto et al. 2017,
concatenated) come from :func:`load_vectors`: word2vec / GloVe text files, in order, each
giving every vocabulary word its block of the word table.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import os
import re
from typing import Iterable, Optional, Sequence

import numpy as np

from tapjax.al.corpora import Tagged

PAD, UNK = 0, 1
_DIGITS = re.compile(r"\d")
NGRAM_SIZES = (2, 3, 4)  # Kazuma's character n-grams of a word (Hashimoto et al. 2017's released vectors)
_NGRAM_KEY = re.compile(r"[1-9]gram-")


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


def char_ngrams(word: str) -> list[str]:
    """Kazuma's keys (``3gram-Par``) of the distinct character n-grams of ``word``, n in
    :data:`NGRAM_SIZES`, the word marked ``#BEGIN#`` … ``#END#`` (Hashimoto et al. 2017)."""
    chars = ["#BEGIN#", *word, "#END#"]
    grams = (f"{n}gram-{''.join(chars[i:i + n])}" for n in NGRAM_SIZES for i in range(len(chars) - n + 1))
    return list(dict.fromkeys(grams))


def _open_text(path: str | os.PathLike):
    """``path`` as UTF-8 text, gunzipped if its name ends in ``.gz``; bytes that are not UTF-8
    are kept as surrogates (such a key matches no vocabulary word)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8", errors="surrogateescape")


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class VectorsFile:
    """One word2vec / GloVe text file: a line per key, ``key v1 … v_dim`` separated by single
    spaces (blank lines skipped), after an optional word2vec header line ``count dim``.

    ``dim`` is the header's, else the first line's. The last ``dim`` fields of a line are the
    vector and the fields before them the key (a few GloVe 840B keys hold spaces). A file
    whose first key is a character n-gram (``2gram-ab``: Kazuma's ``charNgram.txt``) gives a
    word the mean of its n-grams' vectors (:func:`char_ngrams`) instead of a vector of its own.
    """

    path: str
    dim: int
    header: bool
    ngrams: bool

    @classmethod
    def inspect(cls, path: str | os.PathLike) -> "VectorsFile":
        """The layout of ``path``, from its first lines."""
        with _open_text(path) as f:
            first = f.readline().rstrip("\r\n ").split(" ")
            header = len(first) == 2 and all(x.isdigit() for x in first)
            dim = int(first[1]) if header else len(first) - 1
            key = f.readline().split(" ", 1)[0] if header else first[0]
        if dim < 1:
            raise ValueError(f"{path}:1: not a vectors file (a line is a key and its values)")
        return cls(str(path), dim, header, bool(_NGRAM_KEY.match(key)))

    def _key(self, line_no: int, line: str) -> str:
        """The key of a line; a line of another length than the file's is an error naming it."""
        fields = line.count(" ") + 1
        if fields == self.dim + 1:
            return line[: line.index(" ")]
        key = line.rsplit(" ", self.dim)[0] if fields > self.dim + 1 else ""
        if not key or _is_number(key.rsplit(" ", 1)[-1]):  # too short, or a key that swallowed values
            source = "its header" if self.header else "its first line"
            raise ValueError(f"{self.path}:{line_no}: {fields - 1} values, expected {self.dim} (as {source})")
        return key

    def read(self, wanted: set[str]) -> dict[str, np.ndarray]:
        """The vectors of the keys in ``wanted`` (a repeated key: its first line)."""
        found: dict[str, np.ndarray] = {}
        with _open_text(self.path) as f:
            for line_no, line in enumerate(f, 1):
                if line_no == 1 and self.header:
                    continue
                line = line.rstrip("\r\n ")
                if not line:
                    continue
                key = self._key(line_no, line)
                if key in wanted and key not in found:
                    try:
                        found[key] = np.asarray(line[len(key) + 1:].split(" "), np.float32)
                    except ValueError:
                        raise ValueError(f"{self.path}:{line_no}: a value of {key!r} is not a number") from None
        return found

    def forms(self, word: str) -> list[list[str]]:
        """The keys that give ``word`` its vector: the word's, else its lower case's."""
        return [char_ngrams(w) if self.ngrams else [w] for w in dict.fromkeys((word, word.lower()))]

    def lookup(self, word: str, found: dict[str, np.ndarray]) -> Optional[np.ndarray]:
        """``word``'s vector (the mean over the keys of its first form with any in ``found``), or None."""
        for keys in self.forms(word):
            hits = [found[k] for k in keys if k in found]
            if hits:
                return np.mean(hits, 0)
        return None

    def block(self, vocab: WordVocab, rng: np.random.Generator) -> np.ndarray:
        """The file's columns of the word table ``[len(vocab), dim]`` (:func:`load_vectors`)."""
        words = vocab.tokens[2:]
        found = self.read({k for w in words for keys in self.forms(w) for k in keys})
        rows = {i: v for i, w in enumerate(words, 2) if (v := self.lookup(w, found)) is not None}
        if not rows:
            raise ValueError(f"{self.path}: no word of the vocabulary has a vector")
        pretrained = np.stack(list(rows.values()))
        table = rng.normal(0.0, pretrained.std(), (len(vocab), self.dim)).astype(np.float32)
        table[list(rows)] = pretrained
        table[PAD] = 0.0
        return table


def load_vectors(paths: Sequence[str | os.PathLike], vocab: WordVocab, dim: int, seed: int = 0) -> np.ndarray:
    """The word table ``[len(vocab), dim]`` from pretrained vectors files (:class:`VectorsFile`),
    their columns concatenated in the order of ``paths`` (paper: GloVe 300 + Kazuma 100).

    In each file a word takes the vector of its own key, else of its lower case (Kazuma's:
    the mean of the n-gram vectors found). A word the file lacks, and ``<unk>``, get
    ``N(0, s²)`` values in that file's columns, ``s`` the standard deviation of the file's
    vectors found, drawn from ``seed`` (so the same every round); ``<pad>`` is zero. The
    files' dimensions must add up to ``dim``; a line of another length than its file's, a
    vector used that holds a value that is not a number, or a file giving no vocabulary word
    a vector is an error naming the file (and line).
    """
    files = [VectorsFile.inspect(p) for p in paths]
    if sum(f.dim for f in files) != dim:
        shown = " + ".join(f"{f.path} ({f.dim})" for f in files)
        raise ValueError(f"the vectors files give {shown} = {sum(f.dim for f in files)} dimensions, "
                         f"not the embedding size {dim} (embed_dim)")
    rng = np.random.default_rng(seed)
    return np.concatenate([f.block(vocab, rng) for f in files], 1)


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
    """A run's word, character (None without a char encoder) and tag vocabularies, and the
    pretrained word table (:func:`load_vectors`; None without pretrained vectors)."""

    words: WordVocab
    chars: Optional[WordVocab]
    tags: TagVocab
    vectors: Optional[np.ndarray] = None

    @classmethod
    def build(cls, train: Tagged, validation: Tagged, min_count: int = 1, use_chars: bool = False) -> "Vocabs":
        """Words (and characters) of every training sentence, labeled or not, and of the
        validation sentences, never the test set's; tags from the annotation scheme (all
        training tags)."""
        text = train.words + validation.words
        return cls(word_vocab(text, min_count), char_vocab(text) if use_chars else None, TagVocab(train.tags))

    def encode(self, corpus: Tagged) -> Encoded:
        words = [self.words.encode([normalise(w) for w in s]) for s in corpus.words]
        chars = None if self.chars is None else [[self.chars.encode(w) for w in s] for s in corpus.words]
        return Encoded(words, chars, [self.tags.encode(t) for t in corpus.tags], corpus.tags)

"""Sequence-labeling datasets: CoNLL-2003 English NER, ATIS and FMTOD slot filling.

Every reader returns a :class:`Tagged` corpus (one list of words and one list of BIO tags
per sentence); :func:`load` returns the train / validation / test splits of a dataset
found under the data root (``tapjax.common.paths``)::

    conll2003/eng.{train,testa,testb}     4 columns (word POS chunk NER), IOB1 -> BIO
    atis/{train,valid,test}/seq.{in,out}  one utterance per line, BIO slot tags
    fmtod/{train,dev,test}-en.conllu      CoNLL-U, ``NoLabel`` -> ``O``
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tapjax.common.paths import dataset_dir

SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class Tagged:
    """A tagged corpus: ``words[i]`` and ``tags[i]`` are sentence ``i``'s tokens and tags."""

    words: list[list[str]]
    tags: list[list[str]]

    def __len__(self) -> int:
        return len(self.words)

    def subset(self, indices) -> "Tagged":
        return Tagged([self.words[i] for i in indices], [self.tags[i] for i in indices])

    @property
    def num_words(self) -> int:
        return sum(len(w) for w in self.words)


def iob1_to_bio(tags: list[str]) -> list[str]:
    """IOB1 (``B-`` only between two adjacent chunks of one type) to BIO (``B-`` starts every chunk)."""
    out, prev = [], "O"
    for tag in tags:
        if tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def _check_bio(path: os.PathLike, line_no: int, tag: str) -> None:
    if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
        raise ValueError(f"{path}:{line_no}: tag {tag!r} is neither O nor B-/I-TYPE")


def read_conll2003(path: str | os.PathLike) -> Tagged:
    """Reads a CoNLL-2003 file (``word POS chunk NER``, IOB1); drops ``-DOCSTART-``; tags as BIO."""
    words, tags, sent_w, sent_t = [], [], [], []

    def flush():
        if sent_w:
            words.append(sent_w[:])
            tags.append(iob1_to_bio(sent_t))
        sent_w.clear(), sent_t.clear()

    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            flush()
            continue
        if len(cols) != 4:
            raise ValueError(f"{path}:{line_no}: expected 4 columns (word POS chunk NER), got {len(cols)}")
        _check_bio(path, line_no, cols[3])
        sent_w.append(cols[0])
        sent_t.append(cols[3])
    flush()
    return Tagged(words, tags)


def read_atis(folder: str | os.PathLike) -> Tagged:
    """Reads an ATIS split folder: ``seq.in`` (words) and ``seq.out`` (BIO tags), line by line."""
    folder = Path(folder)
    lines_in = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
    lines_out = (folder / "seq.out").read_text(encoding="utf-8").splitlines()
    if len(lines_in) != len(lines_out):
        raise ValueError(f"{folder}: seq.in has {len(lines_in)} lines but seq.out has {len(lines_out)}")
    words, tags = [], []
    for line_no, (w, t) in enumerate(zip(lines_in, lines_out), 1):
        w, t = w.split(), t.split()
        if len(w) != len(t) or not w:
            raise ValueError(f"{folder}/seq.out:{line_no}: {len(t)} tags for {len(w)} words")
        for tag in t:
            _check_bio(folder / "seq.out", line_no, tag)
        words.append(w)
        tags.append(t)
    return Tagged(words, tags)


def read_fmtod(path: str | os.PathLike) -> Tagged:
    """Reads FMTOD CoNLL-U (``index token intent tag`` rows, ``#`` headers); ``NoLabel`` -> ``O``."""
    words, tags, sent_w, sent_t = [], [], [], []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines() + [""], 1):
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if not line.strip():
            if sent_w:
                words.append(sent_w)
                tags.append(sent_t)
            sent_w, sent_t = [], []
            continue
        if len(cols) != 4:
            raise ValueError(f"{path}:{line_no}: expected 4 tab-separated columns, got {len(cols)}")
        tag = "O" if cols[3] == "NoLabel" else cols[3]
        _check_bio(path, line_no, tag)
        sent_w.append(cols[1])
        sent_t.append(tag)
    return Tagged(words, tags)


_LAYOUT = {
    "conll2003": (read_conll2003, ("eng.train", "eng.testa", "eng.testb")),
    "atis": (read_atis, ("train", "valid", "test")),
    "fmtod": (read_fmtod, ("train-en.conllu", "dev-en.conllu", "test-en.conllu")),
}


def load(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, Tagged]:
    """Returns ``{"train", "validation", "test"}`` splits of ``name`` (conll2003, atis, fmtod)."""
    if name not in _LAYOUT:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(_LAYOUT)}")
    reader, files = _LAYOUT[name]
    folder = dataset_dir(name, data_dir)
    return {split: reader(folder / f) for split, f in zip(SPLITS, files)}

"""CROHME data report: counts, skipped files, caption and alignment agreement, OOV tokens
(``tapjax stats``, :mod:`tapjax.cli.stats`).

Every folder report gives the files loaded, each skipped file with its reason,
each warning (a file read despite malformed XML) and the full-alignment rate, overall
and per sub-folder: the share of expressions whose token-to-stroke alignment explains
the whole caption (:func:`tapjax.tap.ink.alignment.fully_aligned`). :func:`folders_report`
reports on any folders (captions by :func:`tapjax.tap.ink.latex.tokenize`), :func:`report` on the
whole CROHME data root.

Caption agreement: how many CROHME 2014 truths :func:`tapjax.tap.ink.latex.tokenize`
turns into exactly the standard caption. Alignment agreement: how many training
expressions get exactly the reference token-to-stroke alignment
(``crohme/tap/on-align-train.tar.gz``), overall and among the expressions the reference
aligns fully. The reference matched symbols by id name, so on files whose fraction
bars, minus signs and roots share ids it leaves symbols without strokes or swaps
them; :mod:`tapjax.tap.ink.alignment` follows the references and disagrees there.
"""

from __future__ import annotations

import collections
from pathlib import Path

from tapjax.common.paths import dataset_dir
from tapjax.tap.ink import alignment, crohme, inkml, latex
from tapjax.tap.ink.symbols import Vocab

FOLDER_NAMES = {"train2014": "TrainINKML", "test2014": "TestEM2014GT",
                "test2016": "TEST2016_INKML_GT", "test2013": "TestINKMLGT_2013"}
CAPTION_SETS = {"train": "train2014", "test": "test2014"}
ALIGN_TAR = "tap/on-align-train.tar.gz"


def caption_agreement(split: crohme.Split) -> dict:
    """Share of truths whose tokenization equals the standard caption (``split.tokens``)."""
    ours = [latex.tokenize(truth) for truth in split.truths]
    differing = [(k, truth, " ".join(mine), " ".join(tokens))
                 for k, truth, mine, tokens in zip(split.keys, split.truths, ours, split.tokens)
                 if mine != tokens]
    return {"total": len(split), "identical": len(split) - len(differing),
            "agreement": 1 - len(differing) / max(len(split), 1), "differing": differing}


def alignment_agreement(split: crohme.Split, reference: dict) -> dict:
    """Share of expressions whose token strokes equal the reference alignment, overall and
    where the reference aligns the whole caption."""
    ours = dict(zip(split.keys, zip(split.tokens, split.token_strokes)))
    strokes = dict(zip(split.keys, split.stroke_count))
    common = sorted(set(ours) & set(reference))
    differing = [k for k in common
                 if (ours[k][0], ours[k][1]) != (reference[k][0], reference[k][1])]
    reference_full = {k for k in common if alignment.fully_aligned(*reference[k], strokes[k])}
    return {"total": len(common), "identical": len(common) - len(differing),
            "agreement": 1 - len(differing) / max(len(common), 1), "differing": differing,
            "reference_full": len(reference_full),
            "agreement_where_reference_full":
                1 - len(reference_full.intersection(differing)) / max(len(reference_full), 1)}


def full_alignment(split: crohme.Split, folder: Path) -> dict:
    """The share of fully aligned expressions (:func:`alignment.fully_aligned`) of ``split``,
    read from ``folder``: ``{"rate", "by_subfolder": {sub-folder: {"n", "rate"}}}``."""
    where = {p.name.removesuffix(".inkml"): str(p.parent.relative_to(folder)) for p in inkml.inkml_files(folder)}
    full = collections.defaultdict(list)
    for key, tokens, token_strokes, count in zip(split.keys, split.tokens, split.token_strokes,
                                                 split.stroke_count):
        full[where.get(key, ".")].append(alignment.fully_aligned(tokens, token_strokes, count))
    rate = sum(map(sum, full.values())) / max(len(split), 1)
    return {"rate": rate, "by_subfolder": {sub: {"n": len(ok), "rate": sum(ok) / len(ok)}
                                           for sub, ok in sorted(full.items())}}


def folder_report(split: crohme.Split, folder: Path) -> dict:
    """Files loaded, ``(path, reason)`` of each skipped file, ``(path, message)`` of warnings,
    the :func:`full_alignment` rates."""
    return {"loaded": len(split), "skipped": split.skipped, "warnings": split.warnings,
            "full_alignment": full_alignment(split, folder)}


def folders_report(folders, cache_dir=None) -> dict:
    """The :func:`folder_report` of each folder (any path), keyed by the path as given."""
    return {"folders": {str(f): folder_report(crohme.load_path(f, cache_dir), Path(f)) for f in folders}}


def report(data_dir=None, cache_dir=None) -> dict:
    """Every figure of the report (see the module docstring)."""
    vocab = Vocab.from_data_root(data_dir)
    folders = {name: crohme.load_folder(folder, data_dir, cache_dir)
               for name, folder in FOLDER_NAMES.items()}
    reference = alignment.read_align_tar(dataset_dir("crohme", data_dir) / ALIGN_TAR)
    splits = {s: len(crohme.load_split(s, data_dir, cache_dir)) for s in ("train", "valid")}
    splits.update({name: len(folders[name]) for name in ("test2014", "test2016", "test2013")})
    crohme_dir = dataset_dir("crohme", data_dir)
    return {
        "folders": {name: folder_report(s, crohme_dir / FOLDER_NAMES[name]) for name, s in folders.items()},
        "splits": splits,
        "vocab_size": len(vocab),
        "caption_agreement": {c: caption_agreement(folders[f]) for c, f in CAPTION_SETS.items()},
        "alignment_agreement": alignment_agreement(folders["train2014"], reference),
        "oov": {name: vocab.unknown_counts(s.tokens) for name, s in folders.items()},
        "tokenizer_oov": {name: vocab.unknown_counts(map(latex.tokenize, s.truths))
                          for name, s in folders.items()},
    }

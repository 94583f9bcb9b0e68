"""CROHME data report: counts, skipped files, caption and alignment agreement, OOV tokens.

Usage::

    python -m tapjax.tap.ink.stats [--data_dir D] [--cache_dir C] [--json] [--show N]
    python -m tapjax.tap.ink.stats --folder PATH [--folder PATH2 ...] [--cache_dir C] [--json]
    python -m tapjax.tap.ink.stats --reference_features [--data_dir D] [--json] [--show N]

Every folder report gives the files loaded, each skipped file with its reason,
each warning (a file read despite malformed XML) and the full-alignment rate, overall
and per sub-folder: the share of expressions whose token-to-stroke alignment explains
the whole caption (:func:`tapjax.tap.ink.alignment.fully_aligned`). ``--folder`` reports
only the given folders (any path; captions by :func:`tapjax.tap.ink.latex.tokenize`).

Caption agreement: how many CROHME 2014 truths :func:`tapjax.tap.ink.latex.tokenize`
turns into exactly the standard caption. Alignment agreement: how many training
expressions get exactly the reference token-to-stroke alignment
(``crohme/tap/on-align-train.tar.gz``), overall and among the expressions the reference
aligns fully. The reference matched symbols by id name, so on files whose fraction
bars, minus signs and roots share ids it leaves symbols without strokes or swaps
them; :mod:`tapjax.tap.ink.alignment` follows the references and disagrees there.
``--reference_features`` reports only how our point features agree with the TAP authors'
released features of the 2014 test set (:func:`tapjax.tap.ink.reference_features.agreement`).
With ``--json`` the last line of the output is one JSON object holding every figure and the
differing keys.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from tapjax.tap.ink import alignment, crohme, inkml, latex, reference_features
from tapjax.common.paths import dataset_dir
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


def _print_folders(stats: dict) -> None:
    for name, folder in stats["folders"].items():
        full = folder["full_alignment"]
        print(f"{name}: loaded {folder['loaded']}, skipped {len(folder['skipped'])}, "
              f"warnings {len(folder['warnings'])}, fully aligned {full['rate']:.4f}")
        if len(full["by_subfolder"]) > 1:
            print("  fully aligned by sub-folder: " + ", ".join(
                f"{sub} {f['rate']:.4f} (n={f['n']})" for sub, f in full["by_subfolder"].items()))
        for path, reason in folder["skipped"]:
            print(f"  skipped {path}: {reason}")
        for path, message in folder["warnings"]:
            print(f"  warning {path}: {message}")


def _print_summary(stats: dict, show: int) -> None:
    _print_folders(stats)
    print("splits:", stats["splits"])
    for name, agreement in stats["caption_agreement"].items():
        print(f"caption agreement {name}: {agreement['agreement']:.4f} "
              f"({agreement['identical']}/{agreement['total']}, "
              f"{len(agreement['differing'])} differ)")
        for key, truth, ours, standard in agreement["differing"][:show]:
            print(f"  {key}\n    truth    {truth}\n    ours     {ours}\n    standard {standard}")
    agreement = stats["alignment_agreement"]
    print(f"alignment agreement: {agreement['agreement']:.4f} "
          f"({agreement['identical']}/{agreement['total']}); where the reference is full "
          f"({agreement['reference_full']}): {agreement['agreement_where_reference_full']:.4f}")
    print("out-of-vocabulary tokens (tokens used):", stats["oov"])
    print("out-of-vocabulary tokens (tokenizer on truths):", stats["tokenizer_oov"])


def _print_reference_features(stats: dict, show: int) -> None:
    n = stats["n"]
    print(f"reference features (crohme/{reference_features.REFERENCE_TAR}, {stats['settings']}): "
          f"{stats['reference_feature_agreement']:.4f} agree within {stats['tolerance']:g} "
          f"({n - len(stats['differing'])}/{n}); same point count {stats['same_point_count']}/{n}")
    print("largest difference per expression (same point count):" + "".join(
        f"\n  {name:9s}" + "  ".join(f"{q} {v:.2e}" for q, v in figures.items())
        for name, figures in stats["columns"].items()))
    print("differing:", " ".join(stats["differing"][:show]) or "none")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default=None,
                        help="data root (default $TAPJAX_DATA or ./data)")
    parser.add_argument("--cache_dir", default=None,
                        help="cache (default $TAPJAX_CACHE or ~/.cache/tapjax)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    parser.add_argument("--show", type=int, default=10, help="differing captions (or feature keys) to print per set")
    parser.add_argument("--folder", action="append", default=[], metavar="PATH",
                        help="report only this folder of InkML files (any path); repeatable")
    parser.add_argument("--reference_features", action="store_true",
                        help="report only the agreement with the authors' 2014 test features")
    args = parser.parse_args(argv)
    if args.folder and args.reference_features:
        parser.error("--folder and --reference_features are separate reports")
    for folder in args.folder:
        if not Path(folder).is_dir():
            parser.error(f"--folder {folder}: not a folder")
    if args.reference_features:
        stats = reference_features.agreement(args.data_dir)
        _print_reference_features(stats, args.show)
    elif args.folder:
        stats = folders_report(args.folder, args.cache_dir)
        _print_folders(stats)
    else:
        stats = report(args.data_dir, args.cache_dir)
        _print_summary(stats, args.show)
    if args.json:
        print(json.dumps(stats, separators=(",", ":")))


if __name__ == "__main__":
    main()

"""``tapjax stats``: the CROHME data report: counts, skipped files, caption and alignment
agreement, out-of-vocabulary tokens (:mod:`tapjax.tap.ink.data_report`).

    tapjax stats [--data_dir D] [--cache_dir C] [--json] [--show N]
    tapjax stats --folder PATH [--folder PATH2 ...] [--cache_dir C] [--json]
    tapjax stats --reference_features [--data_dir D] [--json] [--show N]

Every folder report gives the files loaded, each skipped file with its reason, each warning (a
file read despite malformed XML) and the full-alignment rate, overall and per sub-folder.
``--folder`` reports only the given folders (any path). ``--reference_features`` reports only how
our point features agree with the TAP authors' released features of the 2014 test set
(:func:`tapjax.tap.ink.reference_features.agreement`). ``--json`` prints every figure and the
differing keys as one JSON object instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tapjax.cli import contract
from tapjax.tap.ink import data_report, reference_features


def parser() -> argparse.ArgumentParser:
    flags = contract.parser("tapjax stats", __doc__)
    flags.add_argument("--cache_dir", default=None, help="cache (default: $TAPJAX_CACHE, else ~/.cache/tapjax)")
    flags.add_argument("--show", type=int, default=10, help="differing captions (or feature keys) to print per set")
    flags.add_argument("--folder", action="append", default=[], metavar="PATH",
                       help="report only this folder of InkML files (any path); repeatable")
    flags.add_argument("--reference_features", action="store_true",
                       help="report only the agreement with the authors' 2014 test features")
    return flags


def report(args: argparse.Namespace) -> contract.Result:
    """The report the flags ask for."""
    if args.folder and args.reference_features:
        raise contract.UsageError("--folder and --reference_features are separate reports")
    for folder in args.folder:
        if not Path(folder).is_dir():
            raise contract.UsageError(f"--folder {folder}: not a folder")
    if args.reference_features:
        stats = reference_features.agreement(args.data_dir)
        return contract.Result(stats, reference_text(stats, args.show))
    if args.folder:
        stats = data_report.folders_report(args.folder, args.cache_dir)
        return contract.Result(stats, "\n".join(folder_lines(stats)))
    stats = data_report.report(args.data_dir, args.cache_dir)
    return contract.Result(stats, summary_text(stats, args.show))


def folder_lines(stats: dict) -> list[str]:
    """Each folder's counts and full-alignment rate, its skipped files and warnings."""
    lines = []
    for name, folder in stats["folders"].items():
        full = folder["full_alignment"]
        lines.append(f"{name}: loaded {folder['loaded']}, skipped {len(folder['skipped'])}, "
                     f"warnings {len(folder['warnings'])}, fully aligned {full['rate']:.4f}")
        if len(full["by_subfolder"]) > 1:
            lines.append("  fully aligned by sub-folder: " + ", ".join(
                f"{sub} {f['rate']:.4f} (n={f['n']})" for sub, f in full["by_subfolder"].items()))
        lines += [f"  skipped {path}: {reason}" for path, reason in folder["skipped"]]
        lines += [f"  warning {path}: {message}" for path, message in folder["warnings"]]
    return lines


def summary_text(stats: dict, show: int) -> str:
    """The whole report, the first ``show`` differing captions of each set with it."""
    lines = [*folder_lines(stats), f"splits: {stats['splits']}"]
    for name, agreement in stats["caption_agreement"].items():
        lines.append(f"caption agreement {name}: {agreement['agreement']:.4f} "
                     f"({agreement['identical']}/{agreement['total']}, {len(agreement['differing'])} differ)")
        lines += [f"  {key}\n    truth    {truth}\n    ours     {ours}\n    standard {standard}"
                  for key, truth, ours, standard in agreement["differing"][:show]]
    agreement = stats["alignment_agreement"]
    lines.append(f"alignment agreement: {agreement['agreement']:.4f} "
                 f"({agreement['identical']}/{agreement['total']}); where the reference is full "
                 f"({agreement['reference_full']}): {agreement['agreement_where_reference_full']:.4f}")
    lines.append(f"out-of-vocabulary tokens (tokens used): {stats['oov']}")
    lines.append(f"out-of-vocabulary tokens (tokenizer on truths): {stats['tokenizer_oov']}")
    return "\n".join(lines)


def reference_text(stats: dict, show: int) -> str:
    """The agreement with the authors' features, the first ``show`` differing keys with it."""
    n = stats["n"]
    columns = "".join(f"\n  {name:9s}" + "  ".join(f"{q} {v:.2e}" for q, v in figures.items())
                      for name, figures in stats["columns"].items())
    return "\n".join([
        f"reference features (crohme/{reference_features.REFERENCE_TAR}, {stats['settings']}): "
        f"{stats['reference_feature_agreement']:.4f} agree within {stats['tolerance']:g} "
        f"({n - len(stats['differing'])}/{n}); same point count {stats['same_point_count']}/{n}",
        f"largest difference per expression (same point count):{columns}",
        f"differing: {' '.join(stats['differing'][:show]) or 'none'}"])


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return contract.run(parser(), report, argv)


if __name__ == "__main__":
    sys.exit(main())

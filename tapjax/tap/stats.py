"""CROHME data report: counts, skipped files, caption and alignment agreement, OOV tokens.

Usage::

    python -m tapjax.tap.stats [--data_dir D] [--cache_dir C] [--json] [--show N]

Caption agreement: how many CROHME 2014 truths :func:`tapjax.tap.latex.tokenize`
turns into exactly the standard caption. Alignment agreement: how many training
expressions get exactly the reference token-to-stroke alignment
(``crohme/tap/on-align-train.tar.gz``). With ``--json`` the last line of the
output is one JSON object holding every figure and the differing keys.
"""

from __future__ import annotations

import argparse
import collections
import json

from tapjax.tap import alignment, crohme, latex
from tapjax.common.paths import dataset_dir
from tapjax.tap.symbols import Vocab

FOLDER_NAMES = {"train2014": "TrainINKML", "test2014": "TestEM2014GT",
                "test2016": "TEST2016_INKML_GT"}
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
    """Share of expressions whose token strokes equal the reference alignment."""
    ours = dict(zip(split.keys, zip(split.tokens, split.token_strokes)))
    common = sorted(set(ours) & set(reference))
    differing = [k for k in common
                 if (ours[k][0], ours[k][1]) != (reference[k][0], reference[k][1])]
    return {"total": len(common), "identical": len(common) - len(differing),
            "agreement": 1 - len(differing) / max(len(common), 1), "differing": differing}


def out_of_vocabulary(token_lists, vocab: Vocab) -> dict[str, int]:
    """Count of each out-of-vocabulary token."""
    return dict(collections.Counter(t for tokens in token_lists for t in vocab.unknown(tokens)))


def report(data_dir=None, cache_dir=None) -> dict:
    """Every figure of the report (see the module docstring)."""
    vocab = Vocab.from_data_root(data_dir)
    folders = {name: crohme.load_folder(folder, data_dir, cache_dir)
               for name, folder in FOLDER_NAMES.items()}
    reference = alignment.read_align_tar(dataset_dir("crohme", data_dir) / ALIGN_TAR)
    splits = {s: len(crohme.load_split(s, data_dir, cache_dir)) for s in ("train", "valid")}
    splits.update(test2014=len(folders["test2014"]), test2016=len(folders["test2016"]))
    return {
        "folders": {name: {"loaded": len(s), "skipped": s.skipped} for name, s in folders.items()},
        "splits": splits,
        "vocab_size": len(vocab),
        "caption_agreement": {c: caption_agreement(folders[f]) for c, f in CAPTION_SETS.items()},
        "alignment_agreement": alignment_agreement(folders["train2014"], reference),
        "oov": {name: out_of_vocabulary(s.tokens, vocab) for name, s in folders.items()},
        "tokenizer_oov": {name: out_of_vocabulary(map(latex.tokenize, s.truths), vocab)
                          for name, s in folders.items()},
    }


def _print_summary(stats: dict, show: int) -> None:
    for name, folder in stats["folders"].items():
        print(f"{name}: loaded {folder['loaded']}, skipped {len(folder['skipped'])}")
        for path, reason in folder["skipped"]:
            print(f"  skipped {path}: {reason}")
    print("splits:", stats["splits"])
    for name, agreement in stats["caption_agreement"].items():
        print(f"caption agreement {name}: {agreement['agreement']:.4f} "
              f"({agreement['identical']}/{agreement['total']}, "
              f"{len(agreement['differing'])} differ)")
        for key, truth, ours, standard in agreement["differing"][:show]:
            print(f"  {key}\n    truth    {truth}\n    ours     {ours}\n    standard {standard}")
    agreement = stats["alignment_agreement"]
    print(f"alignment agreement: {agreement['agreement']:.4f} "
          f"({agreement['identical']}/{agreement['total']})")
    print("out-of-vocabulary tokens (tokens used):", stats["oov"])
    print("out-of-vocabulary tokens (tokenizer on truths):", stats["tokenizer_oov"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default=None,
                        help="data root (default $TAPJAX_DATA or ./data)")
    parser.add_argument("--cache_dir", default=None,
                        help="cache (default $TAPJAX_CACHE or ~/.cache/tapjax)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    parser.add_argument("--show", type=int, default=10, help="differing captions to print per set")
    args = parser.parse_args(argv)
    stats = report(args.data_dir, args.cache_dir)
    _print_summary(stats, args.show)
    if args.json:
        print(json.dumps(stats, separators=(",", ":")))


if __name__ == "__main__":
    main()

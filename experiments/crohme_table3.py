"""Table III of the TAP paper for trained runs: WAP alone, TAP alone, TAP + WAP and
TAP + WAP + the GRU language model (Eq. 33), scored on CROHME 2014 and 2016 test.

    python -m experiments.crohme_table3 --tap TAP_RUN --wap WAP_RUN --lm LM_DIR \\
        [--beam 10] [--tune_beam K] [--limit N] [--data_dir D] [--out docs/results/crohme_table3.json] [--json]

The weights of Eq. 33 are drawn on the validation set (CROHME 2013 test) in the paper's two
stages (Fig. 11), each a grid decoded by :func:`tapjax.tap.read.mixture_weights.tune` (best ExpRate,
then WER):

(a) TAP and WAP alone: ``xi_1`` for TAP from 0 to 1 in steps of 0.1, ``xi_2 = 1 - xi_1``,
    ``xi_3 = 0`` (Fig. 11a; the paper's curve peaks at ``xi_1 / xi_2 = 3 / 2``);
(b) the language model added: ``xi_1 + xi_2 = s`` with the ratio ``xi_1 / xi_2`` of (a) kept and
    ``xi_3 = 1 - s`` for ``s`` in :data:`LM_SHARES` (Fig. 11b).

Each row is then decoded on both test sets with ``--beam`` and written to ``--out`` as
``{"rows": {"tap", "wap", "tap+wap", "tap+wap+lm"}}``, each with ``test2014`` and ``test2016``
objects (``exprate``, ``wer``, ``le1``, ``le2``, ``le3``, ``seconds``, ``command``: the
``python -m tapjax.evaluate`` line that decodes that row alone), beside the paper's rows
(:data:`PAPER`), the chosen weights and every tuning score. Our TAP row is one model, the paper's
S3 an ensemble of five (Table I, P8). Prints each row's ExpRate on both test sets (``--json``:
``{row: {test set: ExpRate}}``); the command keeps :mod:`tapjax.cli.contract`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tapjax.cli import contract, decoding_flags
from tapjax.tap.read import evaluation, mixture_weights
from tapjax.tap.read.runs import load_mixture, load_runs, load_split, with_weights

TEST_SETS = ("test2014", "test2016")
VALID = "test2013"
TAP_SHARES = tuple(round(0.1 * i, 1) for i in range(10, -1, -1))  # stage (a): xi_1
LM_SHARES = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7)  # stage (b): xi_1 + xi_2
# Table III (ExpRate and WER in %): S1 WAP, S3 TAP (an ensemble of five, P8), S4 TAP + WAP, S5 TAP + WAP + LM.
PAPER = {"wap": {"test2014": {"exprate": 44.42, "wer": 19.40}, "test2016": {"exprate": 42.02, "wer": 19.73}},
         "tap": {"test2014": {"exprate": 55.37, "wer": 11.53}, "test2016": {"exprate": 50.22, "wer": 12.62}},
         "tap+wap": {"test2014": {"exprate": 60.34, "wer": 9.95}, "test2016": {"exprate": 55.27, "wer": 10.59}},
         "tap+wap+lm": {"test2014": {"exprate": 61.16, "wer": 9.73}, "test2016": {"exprate": 57.02, "wer": 10.55}}}


def lm_grid(tap_wap: tuple[float, float], shares=LM_SHARES) -> list[tuple[float, float, float]]:
    """Stage (b)'s settings: ``(s * xi_1, s * xi_2, 1 - s)`` for each ``s`` of ``shares``, the ratio
    of ``tap_wap`` (stage (a)'s choice) kept."""
    return [(round(s * tap_wap[0], 6), round(s * tap_wap[1], 6), round(1 - s, 6)) for s in shares]


def command(args: argparse.Namespace, split: str, members: tuple[str, ...], weights=None) -> str:
    """The ``python -m tapjax.evaluate`` line that decodes one row on ``split``."""
    flags = [f"--checkpoint {getattr(args, m)}" for m in members if m != "lm"]
    flags += [f"--lm {args.lm}"] * ("lm" in members)
    flags += [f"--weights {','.join(str(w) for w in weights)}"] if weights else []
    return " ".join(["python -m tapjax.evaluate", *flags, f"--split {split}", f"--beam {args.beam}", "--json"])


def score(runs, splits: dict, args: argparse.Namespace, members: tuple[str, ...], weights=None) -> dict:
    """The row of ``runs`` on both test sets (module docstring)."""
    row = {}
    for name in TEST_SETS:
        summary, _ = evaluation.evaluate(runs, splits[name], args.beam)
        row[name] = {k: summary[k] for k in ("exprate", "wer", "le1", "le2", "le3", "seconds")}
        row[name]["command"] = command(args, name, members, weights)
        print(json.dumps({"row": "+".join(members), name: row[name]}), file=sys.stderr, flush=True)
    return row


def table(args: argparse.Namespace) -> dict:
    """Tunes the weights in stages (a) and (b) on the validation set, then scores the four rows
    (module docstring). Every model reads the same preprocessed ink, so each split is loaded once."""
    mixtures = {"tap+wap": load_mixture([args.tap, args.wap], None, args.data_dir),
                "tap+wap+lm": load_mixture([args.tap, args.wap], args.lm, args.data_dir)}
    splits = {name: load_split(mixtures["tap+wap"], name, args.data_dir, args.limit) for name in (VALID, *TEST_SETS)}
    pair, pair_scores = mixture_weights.tune(mixtures["tap+wap"], splits[VALID],
                                             [(s, round(1 - s, 1)) for s in TAP_SHARES], args.tune_beam)
    triple, triple_scores = mixture_weights.tune(mixtures["tap+wap+lm"], splits[VALID], lm_grid(pair), args.tune_beam)
    tuned = {"tap+wap": {"weights": list(pair), "scores": pair_scores},
             "tap+wap+lm": {"weights": list(triple), "scores": triple_scores}}
    rows = {"wap": score(load_runs([args.wap], args.data_dir), splits, args, ("wap",)),
            "tap": score(load_runs([args.tap], args.data_dir), splits, args, ("tap",))}
    for name, mixture in mixtures.items():
        weights = tuned[name]["weights"]
        rows[name] = score(with_weights(mixture, weights), splits, args, tuple(name.split("+")), weights)
    return {"rows": rows, "paper": PAPER, "beam": args.beam, "limit": args.limit,
            "tuning": {"split": VALID, "beam": args.tune_beam, **tuned},
            "members": {"tap": args.tap, "wap": args.wap, "lm": args.lm}}


def parser() -> argparse.ArgumentParser:
    flags = contract.parser("python -m experiments.crohme_table3", __doc__, data_dir=decoding_flags.RUN_DATA_ROOT)
    flags.add_argument("--tap", required=True, metavar="DIR", help="a trained TAP run")
    flags.add_argument("--wap", required=True, metavar="DIR", help="a trained WAP run")
    flags.add_argument("--lm", required=True, metavar="DIR", help="a language model (tapjax lm)")
    flags.add_argument("--beam", type=int, default=10, help="beam width of the test decoding")
    flags.add_argument("--tune_beam", type=int, default=None, help="beam width on the validation set (default: --beam)")
    flags.add_argument("--limit", type=int, default=0, help="only the first N expressions of each split (a check)")
    flags.add_argument("--out", default="docs/results/crohme_table3.json", metavar="FILE")
    return flags


def write_table(args: argparse.Namespace) -> contract.Result:
    """Tunes, scores and writes the table to ``--out``; the result is each row's ExpRate."""
    args.tune_beam = args.tune_beam or args.beam
    result = table(args)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    exprates = {name: {s: row[s]["exprate"] for s in TEST_SETS} for name, row in result["rows"].items()}
    lines = [f"{name}: " + ", ".join(f"{s} {100 * rate:.2f} %" for s, rate in rates.items())
             for name, rates in exprates.items()]
    return contract.Result(exprates, "\n".join([f"ExpRate (written to {args.out}):", *lines]))


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    return contract.run(parser(), write_table, argv)


if __name__ == "__main__":
    sys.exit(main())

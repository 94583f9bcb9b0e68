"""``tapjax al_report``: active-learning runs' ``summary.json`` as the README's tables (W-BADGE
paper §6: F1 per % of words; :mod:`tapjax.al.report`).

    tapjax al_report docs/results/atis_tagger/summary.json [...] [--at 5 10 20] [--json]

Per strategy: its test F1 at ``--at`` % of the training words annotated (mean ± sample std over
seeds), its mean F1 over the span every run shares and, for each baseline, W-BADGE's paired lead
in that area; then the full-data F1 and whether W-BADGE leads. Prints one Markdown table per
summary (``--json``: ``{"reports": [{"summary", "table", "verdict"}, ...]}``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tapjax.al import report
from tapjax.cli import contract


def parser() -> argparse.ArgumentParser:
    flags = contract.parser("tapjax al_report", __doc__, data_dir=None)
    flags.add_argument("summaries", nargs="+", type=Path, help="summary.json files of AL runs")
    flags.add_argument("--at", nargs="+", type=float, default=[5.0, 10.0, 20.0], help="%% of the words annotated")
    return flags


def tables(args: argparse.Namespace) -> contract.Result:
    """The table of each summary."""
    summaries = [(path, report.load(path)) for path in args.summaries]
    reports = [{"summary": str(path), "table": report.table(s, args.at), "verdict": report.verdict(s)}
               for path, s in summaries]
    return contract.Result({"reports": reports}, "\n\n".join(r["table"] for r in reports))


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return contract.run(parser(), tables, argv)


if __name__ == "__main__":
    sys.exit(main())

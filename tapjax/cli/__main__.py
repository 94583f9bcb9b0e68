"""``tapjax COMMAND [flags]`` (or ``python -m tapjax.cli COMMAND``): runs one of :data:`COMMANDS`,
the ``main`` of the module ``tapjax.cli.COMMAND`` (``tapjax COMMAND --help`` tells its flags).
A command's module is imported only when it runs, so listing them loads no JAX."""

from __future__ import annotations

import importlib
import sys

from tapjax.cli import contract

COMMANDS = {
    "recognize": "the LaTeX of handwritten expressions in InkML files (trained runs or the shipped model)",
    "evaluate": "score trained runs (one, an ensemble or a mixture) on a CROHME split",
    "tune": "choose the mixture weights of TAP's Eq. 33 on the validation set",
    "export": "write a trained run as an exported model (how tapjax ships one) and score its card",
    "train": "train TAP or WAP from a config file and test it on CROHME 2014 and 2016",
    "lm": "train the GRU language model of TAP's Eq. 33 from its config file",
    "stats": "the CROHME data report: counts, skipped files, caption and alignment agreement",
    "draw": "draw InkML files as the images an offline model (WAP) reads",
    "active_learning": "active learning for sequence labeling (W-BADGE paper) from a config file",
    "al_report": "active-learning runs' summary.json as Markdown tables",
}


def usage() -> str:
    """The command list, as ``tapjax --help`` prints it."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, summary in COMMANDS.items()]
    return "\n".join(["usage: tapjax COMMAND [flags]   (tapjax COMMAND --help: its flags)", "", "commands:", *lines])


def main(argv: list[str] | None = None) -> int:
    """Runs the command ``argv[0]`` on the rest of ``argv``; returns its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["--help"], ["-h"]):
        print(usage())
        return 0
    if not argv or argv[0] not in COMMANDS:
        given = f"unknown command {argv[0]!r}" if argv else "no command given"
        return contract.fail(f"{given}; one of: {', '.join(COMMANDS)} (tapjax --help)")
    return importlib.import_module(f"tapjax.cli.{argv[0]}").main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())

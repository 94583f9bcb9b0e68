"""The contract every command keeps, and the runner that keeps it.

- ``main(argv: list[str] | None = None) -> int`` returns the exit status (``argv`` None: the
  process's arguments): 0 when the work is done; 2 for a usage error, a bad flag, a missing data
  root or an unusable input, each told in one ``error: ...`` line on stderr, never a traceback.
- ``--json`` prints exactly one JSON object on stdout and nothing else: whatever else the work
  prints (progress, warnings) goes to stderr. Without it the command prints its result as text.
- ``--data_dir`` wherever data is read: the data root, by default ``$TAPJAX_DATA``, else
  ``./data`` (:mod:`tapjax.common.paths`); one that is not a folder is a bad flag.
- ``--help`` prints the command's usage and its module docstring.

A command builds its flags on :func:`parser` and hands them, with the function doing its work
(``Namespace -> Result``), to :func:`run`. Commands configured by a config file run through
:mod:`tapjax.cli.experiment`, which keeps the same contract with absl's flags.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Callable

from tapjax.common.errors import InputError

DATA_ROOT = "$TAPJAX_DATA, else ./data"  # where the data root is when --data_dir is not given
JSON_HELP = "print the result as one JSON object on stdout, and nothing else there"


@dataclasses.dataclass(frozen=True)
class Result:
    """What a command found: ``record`` (printed as one JSON object with ``--json``) and ``text``
    (printed otherwise); ``status`` 2 when some inputs were unusable (each named on stderr) but
    the others were done."""

    record: dict
    text: str
    status: int = 0


class UsageError(Exception):
    """Flags that cannot run together, or values a command cannot use: the message is the error line."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one ``error: ...`` line on stderr and exit status 2."""

    def error(self, message: str):
        sys.exit(fail(message))


def fail(problem) -> int:
    """Prints ``error: problem`` on stderr, on one line; returns exit status 2."""
    print("error: " + " ".join(line.strip() for line in str(problem).splitlines() if line.strip()), file=sys.stderr)
    return 2


def folder(text: str) -> str:
    """``--data_dir``'s type: an existing folder."""
    if not Path(text).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    return text


def parser(prog: str, doc: str, data_dir: str | None = DATA_ROOT) -> ArgumentParser:
    """The flags every command shares, for the command ``prog`` (e.g. ``tapjax recognize``) documented
    by ``doc``: ``--json``, and ``--data_dir`` (defaulting as ``data_dir`` says) unless ``data_dir`` is None."""
    flags = ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    flags.add_argument("--json", action="store_true", help=JSON_HELP)
    if data_dir is not None:
        flags.add_argument("--data_dir", type=folder, default=None, metavar="D",
                           help=f"the data root (default: {data_dir})")
    return flags


def run(flags: argparse.ArgumentParser, work: Callable[[argparse.Namespace], Result], argv: list[str] | None) -> int:
    """Parses ``argv`` with ``flags`` and does the ``work`` they ask for (:func:`report`); returns the exit status."""
    try:
        args = flags.parse_args(argv)
    except SystemExit as done:  # --help (0), or a usage error already told (2)
        return done.code
    return report(lambda: work(args), args.json)


def report(work: Callable[[], Result], as_json: bool) -> int:
    """Does ``work`` and prints its :class:`Result` (one JSON object if ``as_json``, its stdout then
    sent to stderr); an unusable input is one error line. Returns the exit status."""
    try:
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            result = work()
    except (InputError, UsageError, OSError) as error:
        return fail(error)
    if as_json:
        print(json.dumps(result.record))
    elif result.text:
        print(result.text)
    return result.status

"""Command-line conventions of the tools: an unusable input is one error line naming it and
exit status 2, never a traceback; a problem worked around is one warning line."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable, Iterator

from absl import flags
from tqdm import tqdm


class InputError(Exception):
    """An unusable input of a command-line tool: ``path`` names it, ``problem`` says why."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None) -> int:
    """Runs ``main(argv)``: its exit status (None: 0); an :class:`InputError` prints its message
    and gives 2 (a tool that reports several inputs' errors itself returns 2)."""
    try:
        return main(argv) or 0
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def warn(message: str) -> None:
    """Prints ``warning: message`` on stderr (a problem the tool works around), on a line of its
    own under any progress bar."""
    tqdm.write(f"warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def flag_errors(argv: list[str] | None = None) -> Iterator[None]:
    """Within it, an unusable flag (an ``--config.`` override of a field the config lacks, a bad
    value, a missing required flag, a config file that fails) is one ``error:`` line and exit
    status 2. Entry points wrap in it the config flag's definition, the setting of its default and
    absl's parsing: ml_collections applies the overrides at the first two when ``--config`` is not
    given, at the parsing otherwise."""
    try:
        yield
    except flags.Error as error:  # a config file's error comes with its traceback: keep its last line
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        problem = lines[0] + (f" {lines[-1]}" if len(lines) > 1 else "")
    except (AttributeError, KeyError) as error:  # ml_collections: no such field (KeyError: no such block)
        problem = _unknown_field(sys.argv if argv is None else argv, error)
    else:
        return
    print(f"error: {problem}", file=sys.stderr)
    sys.exit(2)


def parse_absl_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing for ``app.run(main, flags_parser=parse_absl_flags)``, under :func:`flag_errors`."""
    with flag_errors(argv):
        return flags.FLAGS(argv)


def _unknown_field(argv: list[str], error: Exception) -> str:
    """``--config.a.b: no such config field 'b'`` (with ml_collections' suggestion, if any)."""
    while error.args and isinstance(error.args[0], Exception):  # AttributeError(KeyError(message))
        error = error.args[0]
    lines = str(error.args[0] if error.args else error).splitlines()
    name = lines[0].strip("'\"") if lines else "?"
    given = [a.split("=")[0] for a in argv if a.startswith("--") and name in a.split("=")[0].split(".")]
    hint = f" ({lines[1]})" if len(lines) > 1 else ""
    return f"{given[0] if given else 'a flag'}: no such config field {name!r}{hint}"

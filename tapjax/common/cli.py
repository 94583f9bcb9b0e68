"""Command-line conventions of the tools: an unusable input is one error line naming it and
exit status 2, never a traceback."""

from __future__ import annotations

import os
import sys
from typing import Callable


class InputError(Exception):
    """An unusable input of a command-line tool: ``path`` names it, ``problem`` says why."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def run_cli(main: Callable[[list[str] | None], None], argv: list[str] | None) -> int:
    """Runs ``main(argv)``: 0 on success; an :class:`InputError` prints its message and gives 2."""
    try:
        main(argv)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0

"""What a tool tells its user about an input: an unusable one is an :class:`InputError` naming it
(the commands, :mod:`tapjax.cli`, print it as one error line and exit with status 2, never a
traceback); a problem worked around is one warning line (:func:`warn`)."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


class InputError(Exception):
    """An unusable input: ``path`` names it, ``problem`` says why."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def warn(message: str) -> None:
    """Prints ``warning: message`` on stderr (a problem the tool works around), on a line of its
    own under any progress bar."""
    tqdm.write(f"warning: {message}", file=sys.stderr)

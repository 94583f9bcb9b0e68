"""Where the datasets live: the data root.

The data root is, in order of precedence, the ``--data_dir`` flag (passed in as
``flag``), the ``TAPJAX_DATA`` environment variable, or ``./data``. Its layout is
the one described in ``data/README.md``::

    crohme/TrainINKML  crohme/TestEM2014GT  crohme/TEST2016_INKML_GT  crohme/tap/...
    conll2003/eng.{train,testa,testb}  atis/{train,valid,test}/  fmtod/*-en.conllu
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TAPJAX_DATA"


def data_root(flag: str | os.PathLike | None = None) -> Path:
    """Returns the data root: ``flag`` if given, else ``$TAPJAX_DATA``, else ``./data``."""
    if flag:
        return Path(flag).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path("data")


def dataset_dir(name: str, flag: str | os.PathLike | None = None) -> Path:
    """Returns ``<data root>/<name>``, raising a clear error if it is missing."""
    path = data_root(flag) / name
    if not path.is_dir():
        raise FileNotFoundError(
            f"dataset folder {path} not found: set {ENV_VAR} or --data_dir to the data root "
            f"(see data/README.md for where to get '{name}')")
    return path

"""``tapjax train``: trains TAP (or WAP) on CROHME 2014 and tests it on CROHME 2014 and 2016.

    tapjax train --config experiments/configs/crohme14.py:paper --workdir DIR [--data_dir PATH] \\
        [--config.train.batch_size=16 ...] [--json]
    tapjax train --config experiments/configs/wap.py:cpu --workdir DIR

(``python -m experiments.crohme14`` is the same command.) The config's ``model.family`` says which
model trains (``wap.py``: WAP on the rendered ink). A ``DIR`` that already holds a run resumes it,
if the config defines the same run (:data:`tapjax.tap.fit.trainer.MAY_CHANGE`). Results go to
``DIR/results.json`` (:func:`tapjax.tap.fit.trainer.train_and_evaluate`; ``--json`` prints them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import ml_collections

from tapjax.cli import contract, experiment
from tapjax.tap.fit import trainer

DEFAULT_CONFIG = "experiments/configs/crohme14.py:paper"


def train(config: ml_collections.ConfigDict, workdir: str) -> contract.Result:
    """Trains (or resumes) and tests the run of ``config`` in ``workdir``."""
    return contract.Result(trainer.train_and_evaluate(config, workdir), f"results in {Path(workdir) / 'results.json'}")


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return experiment.run(train, DEFAULT_CONFIG, argv, "tapjax train", __doc__)


if __name__ == "__main__":
    sys.exit(main())

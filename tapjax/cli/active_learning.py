"""``tapjax active_learning``: active learning for sequence labeling (W-BADGE paper) from a config file.

    tapjax active_learning --config experiments/configs/al_conll.py:quick --workdir /tmp/al \\
        [--data_dir ../shared/data] [--config.model=encdec] [--json]

The config names the dataset (``al_conll.py``: NER on CoNLL-2003, ``al_atis.py`` and
``al_fmtod.py``: slot filling; ``python -m experiments.al_conll`` and its siblings are this
command with their config as the default). A ``--workdir`` that already holds a run resumes it
after its last finished round, if the config defines the same run (:data:`tapjax.al.loop.MAY_CHANGE`).
Results go to ``DIR/results.jsonl``, ``DIR/summary.json`` and ``DIR/curves.png``
(:func:`tapjax.al.loop.run`; ``--json`` prints the summary).
"""

from __future__ import annotations

import sys
from pathlib import Path

import ml_collections

from tapjax.al import loop
from tapjax.cli import contract, experiment

DEFAULT_CONFIG = "experiments/configs/al_conll.py"


def learn(config: ml_collections.ConfigDict, workdir: str) -> contract.Result:
    """Runs (or resumes) every strategy, seed and round of ``config`` in ``workdir``."""
    return contract.Result(loop.run(config, workdir), f"summary in {Path(workdir) / 'summary.json'}")


def main(argv: list[str] | None = None, default_config: str = DEFAULT_CONFIG) -> int:
    """The command line (module docstring), ``--config`` defaulting to ``default_config``; returns the exit status."""
    return experiment.run(learn, default_config, argv, "tapjax active_learning", __doc__)


if __name__ == "__main__":
    sys.exit(main())

"""``tapjax lm``: trains the GRU language model of TAP's Eq. 33 from its config file.

    tapjax lm --workdir DIR [--config experiments/configs/language_model.py] [--data_dir D] \\
        [--config.train.epochs=20 --config.model.hidden=128 ...] [--json]

trains on ``crohme/tap/train_caption.txt``, keeps the epoch of lowest perplexity on the tokenized
CROHME 2013 test truths (``--config.data.valid=none``: the last epoch), saves ``DIR/lm_params.npz``
and ``DIR/lm_config.json`` (read by ``tapjax evaluate --lm DIR`` and ``tapjax tune --lm DIR``) and
scores the per-symbol perplexity on the training captions, the validation truths and the CROHME
2014 and 2016 test sets (:func:`tapjax.tap.fit.lm_trainer.train_and_score`). Each epoch's record is
one JSON line on stderr; the results are printed at the end (``--json``: one JSON object).
"""

from __future__ import annotations

import json
import sys

import ml_collections

from tapjax.cli import contract, experiment
from tapjax.tap.fit.lm_trainer import train_and_score

DEFAULT_CONFIG = "experiments/configs/language_model.py"


def train(config: ml_collections.ConfigDict, workdir: str) -> contract.Result:
    """Trains, saves and scores the language model of ``config`` in ``workdir``."""
    result = train_and_score(config, workdir, log=lambda record: print(json.dumps(record), file=sys.stderr, flush=True))
    perplexity = ", ".join(f"{name} {value}" for name, value in result["perplexity"].items())
    return contract.Result(result, f"saved in {workdir} (epoch {result['epoch']} kept, {result['parameters']} "
                                   f"parameters, {result['train_s']} s); perplexity per symbol: {perplexity}")


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return experiment.run(train, DEFAULT_CONFIG, argv, "tapjax lm", __doc__)


if __name__ == "__main__":
    sys.exit(main())

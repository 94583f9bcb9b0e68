"""Active learning on fmtod (W-BADGE paper): ``--config experiments/configs/al_fmtod.py:VARIANT``.

Batch 32, 50 epochs, BiLSTM 256 units per direction,
initial set and each round's query 0.01 of the training words (paper §5.2-5.3);
variants paper / cpu / quick / smoke as in :mod:`experiments.configs.al_common`; ``cpu`` here
also trains at most 20 epochs, validates from the 6th and stops a model after 3 validations
without a better F1 (early stopping on validation F1, allowed by the protocol), so that the
protocol fits one sitting on a CPU (the probes and the run: benchmarks/RESULTS.md,
docs/results/fmtod_tagger).
"""

from experiments.configs import al_common

VARIANTS = al_common.VARIANTS


def get_config(variant: str = "paper"):
    """The config of ``variant`` (one of :data:`VARIANTS`) on FMTOD."""
    return al_common.dataset_config("fmtod", variant)

"""Active learning on atis (W-BADGE paper): ``--config experiments/configs/al_atis.py:VARIANT``.

Batch 20, 50 epochs, BiLSTM 200 units per direction,
initial set and each round's query 0.02 of the training words (paper §5.2-5.3);
variants paper / cpu / quick / smoke as in :mod:`experiments.configs.al_common`.
"""

from experiments.configs import al_common

VARIANTS = al_common.VARIANTS


def get_config(variant: str = "paper"):
    """The config of ``variant`` (one of :data:`VARIANTS`) on ATIS."""
    return al_common.dataset_config("atis", variant)

"""Active learning on atis (W-BADGE paper): ``--config experiments/configs/al_atis.py:VARIANT``.

Batch 20, 50 epochs, BiLSTM 200 units per direction,
initial set and each round's query 0.02 of the training words (paper §5.2-5.3);
variants paper / cpu / quick / smoke as in :mod:`experiments.configs.al_common`.
"""

from experiments.configs.al_common import apply_variant, get_base


def get_config(variant: str = "paper"):
    base = get_base("atis", hidden=200, batch_size=20, epochs=50, initial_fraction=0.02,
                    buckets=(16, 32, 64))
    return apply_variant(base, variant)

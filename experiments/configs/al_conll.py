"""Active learning on conll2003 (W-BADGE paper): ``--config experiments/configs/al_conll.py:VARIANT``.

Batch 16, 25 epochs, BiLSTM 200 units per direction,
initial set and each round's query 0.02 of the training words (paper §5.2-5.3);
variants paper / cpu / quick / smoke as in :mod:`experiments.configs.al_common`.
"""

from experiments.configs.al_common import apply_variant, get_base


def get_config(variant: str = "paper"):
    base = get_base("conll2003", hidden=200, batch_size=16, epochs=25, initial_fraction=0.02,
                    buckets=(16, 32, 64, 128))
    return apply_variant(base, variant)

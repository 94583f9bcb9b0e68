"""Active learning on fmtod (W-BADGE paper): ``--config experiments/configs/al_fmtod.py:VARIANT``.

Batch 32, 50 epochs, BiLSTM 256 units per direction,
initial set and each round's query 0.01 of the training words (paper §5.2-5.3);
variants paper / cpu / quick / smoke as in :mod:`experiments.configs.al_common`.
"""

from experiments.configs.al_common import apply_variant, get_base


def get_config(variant: str = "paper"):
    base = get_base("fmtod", hidden=256, batch_size=32, epochs=50, initial_fraction=0.01,
                    buckets=(8, 16, 32))
    return apply_variant(base, variant)

"""Active learning on fmtod (W-BADGE paper): ``--config experiments/configs/al_fmtod.py:VARIANT``.

Batch 32, 50 epochs, BiLSTM 256 units per direction,
initial set and each round's query 0.01 of the training words (paper §5.2-5.3);
variants paper / cpu / quick / smoke as in :mod:`experiments.configs.al_common`; ``cpu`` here
also trains at most 20 epochs, validates from the 6th and stops a model after 3 validations
without a better F1 (early stopping on validation F1, allowed by the protocol): probes on the
2-core CPU, one fit warm, 1,852 sentences in 12.9 s (test F1 0.891, best epoch 11) and 3,301 in
16.1 s (0.922, best epoch 9) against 0.919 with all 25 epochs. Random, 1 seed, 10 rounds: 156 s
(test F1 0.919 at 11 % of the words); with the other strategies' selections (BALD 28 s, BADGE
16 s, W-BADGE 13 s a round) the protocol was estimated at 2 h 5 min; it took 117.2 min
(benchmarks/RESULTS.md, docs/results/fmtod_tagger).
"""

from experiments.configs.al_common import apply_variant, get_base


def get_config(variant: str = "paper"):
    base = get_base("fmtod", hidden=256, batch_size=32, epochs=50, initial_fraction=0.01,
                    buckets=(8, 16, 32))
    config = apply_variant(base, variant)
    if variant == "cpu":
        config.train.update(epochs=20, eval_from_epoch=6, patience=3)
    return config

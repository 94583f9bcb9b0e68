"""Active learning on conll2003 (W-BADGE paper): ``--config experiments/configs/al_conll.py:VARIANT``.

Batch 16, 25 epochs, BiLSTM 200 units per direction,
initial set and each round's query 0.02 of the training words (paper §5.2-5.3);
variants paper / cpu / quick / smoke as in :mod:`experiments.configs.al_common`; ``cpu`` here
also trains 8 epochs (validation from the 4th, a model stopped after 3 validations without a
better F1) and keeps words seen at least twice in the pool and validation text (12,494 of
22,705; the rest share ``<unk>``): Adam's dense update of the 22,705-row word table made a step
of 16 sentences cost 19 ms against 13 ms with 12,494 rows. Probes on the 2-core CPU: 3,149
sentences (22 % of the words) in 8 epochs, test F1 0.678 (0.694 after 25 epochs); 283 sentences
(2 %) 0.406 (0.429). Random, 1 seed, 10 rounds: 204 s; with the other strategies' selections
(BALD 29 s a round, the rest 2-3 s) the protocol was estimated at 2 h 15 min; it took 143.2 min,
about 65 of them sharing the CPU with other work (benchmarks/RESULTS.md, docs/results/conll_tagger).
"""

from experiments.configs.al_common import apply_variant, get_base


def get_config(variant: str = "paper"):
    base = get_base("conll2003", hidden=200, batch_size=16, epochs=25, initial_fraction=0.02,
                    buckets=(16, 32, 64, 128))
    config = apply_variant(base, variant)
    if variant == "cpu":
        config.train.update(epochs=8, eval_from_epoch=4, patience=3)
        config.model_cfg.min_count = 2
    return config

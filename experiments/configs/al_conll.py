"""Active learning on conll2003 (W-BADGE paper): ``--config experiments/configs/al_conll.py:VARIANT``.

Batch 16, 25 epochs, BiLSTM 200 units per direction,
initial set and each round's query 0.02 of the training words (paper §5.2-5.3);
variants paper / cpu / quick / smoke as in :mod:`experiments.configs.al_common`; ``cpu`` here
also trains 8 epochs (validation from the 4th, a model stopped after 3 validations without a
better F1) and keeps words seen at least twice in the pool and validation text (12,494 of
22,705; the rest share ``<unk>``): Adam's dense update of the whole word table was a third of
a step. The probes and the run: benchmarks/RESULTS.md, docs/results/conll_tagger.
"""

from experiments.configs import al_common

VARIANTS = al_common.VARIANTS


def get_config(variant: str = "paper"):
    """The config of ``variant`` (one of :data:`VARIANTS`) on CoNLL-2003."""
    return al_common.dataset_config("conll2003", variant)

"""Shared active-learning configuration (W-BADGE paper §5.2-5.3) and its variants.

Variants (``--config experiments/configs/al_<dataset>.py:VARIANT``):

* ``paper``: the paper's settings: every strategy of :data:`tapjax.al.strategies.STRATEGIES`,
  5 seeds, 400-dim embeddings (GloVe 300 + Kazuma 100 when given in ``model_cfg.vectors``)
  joined by a character BiLSTM, BiLSTM of ``hidden`` units per direction, dropout 0.5,
  Adam 1e-3, BALD with T = 100 passes of MC dropout through the whole network; the start set
  and each round's query the same number of words (``al.budget = "words"``, §5.3).
* ``cpu``: the paper's protocol (every strategy, 5 seeds, 10 rounds, the word budget, the
  batch size) with a smaller model without the character encoder, a larger learning rate, fewer
  epochs and T = 20 BALD passes (below), sized to fit one sitting on a CPU on ATIS (times in
  benchmarks/RESULTS.md). FMTOD and CoNLL-2003 cut their epochs
  further, with early stopping (CoNLL-2003 also its vocabulary): their ``get_config``.
* ``quick``: a real run on the real data in minutes on a CPU: 1 seed,
  3 rounds, a smaller model without the character encoder, a larger learning rate, fewer
  epochs, T = 100 BALD passes (cheap with dropout after the encoder only), a 2-epoch
  full-data reference.
* ``smoke``: seconds, for tests.
"""

from __future__ import annotations

from typing import NamedTuple

import ml_collections

from tapjax.al import strategies
from tapjax.al.sentence_batches import finer_buckets
from tapjax.common import run_config

VARIANTS = ("paper", "cpu", "quick", "smoke")


class Dataset(NamedTuple):
    """A dataset's settings in the paper (§5.2-5.3): BiLSTM units per direction, batch size, epochs,
    the share of the training words in the start set and in each round's query, and the padded
    lengths of the training batches."""

    hidden: int
    batch_size: int
    epochs: int
    initial_fraction: float
    buckets: tuple[int, ...]


DATASETS = {
    "atis": Dataset(hidden=200, batch_size=20, epochs=50, initial_fraction=0.02, buckets=(16, 32, 64)),
    "conll2003": Dataset(hidden=200, batch_size=16, epochs=25, initial_fraction=0.02, buckets=(16, 32, 64, 128)),
    "fmtod": Dataset(hidden=256, batch_size=32, epochs=50, initial_fraction=0.01, buckets=(8, 16, 32)),
}
# How long the cpu variant trains on each dataset (dotted fields): ATIS, which the variant is sized
# on, 25 epochs validated from the 10th; FMTOD and CoNLL-2003 fewer, stopping a model after 3
# validations without a better F1, and CoNLL-2003 with the words seen at least twice only (its
# dataset file says why).
CPU = {
    "atis": {"train.epochs": 25, "train.eval_from_epoch": 10},
    "conll2003": {"train.epochs": 8, "train.eval_from_epoch": 4, "train.patience": 3, "model_cfg.min_count": 2},
    "fmtod": {"train.epochs": 20, "train.eval_from_epoch": 6, "train.patience": 3},
}


def dataset_config(dataset: str, variant: str) -> ml_collections.ConfigDict:
    """The config of ``variant`` (one of :data:`VARIANTS`, empty: ``paper``) on ``dataset`` (a key of
    :data:`DATASETS`)."""
    variant = variant or "paper"
    if variant not in VARIANTS:
        raise ValueError(f"unknown config variant {variant!r}; choose from {VARIANTS}")
    return _apply_variant(_base(dataset), variant)


def _base(dataset: str) -> ml_collections.ConfigDict:
    hidden, batch_size, epochs, initial_fraction, buckets = DATASETS[dataset]
    c = ml_collections.ConfigDict()
    c.version = run_config.VERSION  # the set of fields this file writes (tapjax.common.run_config)
    c.data = ml_collections.ConfigDict(dict(
        name=dataset,  # conll2003, atis or fmtod (tapjax.al.corpora)
        root="",  # the data root (--data_dir sets it); empty: $TAPJAX_DATA or ./data
        limit=0))  # > 0: use only the first `limit` sentences of each split (smoke runs)
    c.model = "tagger"  # or "encdec" (BiLSTM encoder, LSTM decoder, greedy decoding)

    c.model_cfg = ml_collections.ConfigDict()
    c.model_cfg.embed_dim = 400
    c.model_cfg.hidden = hidden
    c.model_cfg.decoder = 100
    c.model_cfg.dropout = 0.5
    c.model_cfg.chars = True  # a character BiLSTM (Lample et al. 2016) joined to each word's embedding
    c.model_cfg.min_count = 1
    # Pretrained vectors files (word2vec / GloVe text, .gz too; Kazuma's charNgram.txt) whose
    # columns, concatenated in order, start the word table: their dimensions add up to embed_dim
    # (paper: GloVe 300 + Kazuma 100). Empty: a random table. tapjax.al.vocabulary.load_vectors
    c.model_cfg.vectors = ()

    # tapjax.common.optim.make_optimizer, as TAP's; decay_epochs > 0: cosine decay over that many epochs
    c.optim = ml_collections.ConfigDict(dict(
        name="adam", learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8, rho=0.95, clip_norm=0.0,
        decay_epochs=0, final_lr_fraction=0.0, warmup_epochs=0.0, schedule_clock="steps",
        lr_cut_factor=0.0))  # no step-size cuts

    c.train = ml_collections.ConfigDict()
    c.train.batch_size = batch_size
    c.train.epochs = epochs
    c.train.eval_from_epoch = 1  # validation F1 (model selection) from this epoch on
    c.train.patience = 0  # > 0: a model stops after this many validations without a better F1 (0: all epochs)
    c.train.buckets = buckets  # padded lengths of training batches
    # Evaluation and pool scoring (no gradients): batches (pool scoring: chunks) of about
    # score_tokens padded tokens, over finer buckets (less padding; each is one more shape).
    c.train.score_tokens = 2048  # CPU: faster than 8192 (cache); raise on an accelerator
    c.train.score_buckets = finer_buckets(buckets)
    c.train.max_word = 20
    # The seeds of a round (tapjax.al.loop): trained together as replicas of one vmapped program
    # ("vmap", tapjax.al.learner.train_replicas) or one after another ("sequential"); the same
    # models. vmap pays where a step is latency-bound (an accelerator); on a CPU a step of 5
    # replicas costs about 5 steps (their FLOPs add up) and padding them to a common length adds
    # more (benchmarks/al_replicas.py).
    c.train.replicas = "sequential"

    c.al = ml_collections.ConfigDict()
    c.al.strategies = tuple(strategies.STRATEGIES)
    c.al.seeds = (0, 1, 2, 3, 4)
    # The budget's unit (tapjax.al.loop): "words" (the paper's: sentences are added in the
    # strategy's order until their words meet the budget, the last may overshoot) or "sentences".
    c.al.budget = "words"
    c.al.initial_fraction = initial_fraction  # of the training words (sentences): the random start set
    c.al.query_fraction = initial_fraction  # of the training words (sentences): added each round (paper: as the start)
    c.al.rounds = 10
    # BALD: `passes` MC-dropout decodings (T); encoder_dropout=True: MC dropout through the whole
    # network, every dropout layer active, the whole model per pass (the paper's); False: dropout
    # only after the encoder (embeddings + BiLSTM run once, T passes of the decoder part: cheaper).
    # Ties are broken at random (tapjax.al.strategies.bald).
    c.al.bald = ml_collections.ConfigDict(dict(passes=100, encoder_dropout=True))
    c.al.grid_step = 1.0  # summary.json compares the runs' F1 at the multiples of this % of training words
    c.al.full_data_reference = True
    c.al.full_data_epochs = 0  # epochs of the full-data reference; 0: train.epochs
    return c


def _apply_variant(c: ml_collections.ConfigDict, variant: str) -> ml_collections.ConfigDict:
    if variant == "paper":
        return c
    if variant == "quick":
        # 281 sentences at batch 8 are 35 Adam steps an epoch: at lr 1e-3 and 6-15 epochs the
        # model stayed near the all-O tagging (F1 < 6); lr 5e-3, batch 8, 20 epochs leave it.
        c.model_cfg.embed_dim = 100
        c.model_cfg.hidden = 64
        c.model_cfg.chars = False
        c.train.batch_size = 8
        c.optim.learning_rate = 5e-3
        c.train.epochs = 20
        c.train.eval_from_epoch = 12
        c.al.seeds = (0,)
        c.al.rounds = 3
        c.al.bald.encoder_dropout = False
        c.al.full_data_epochs = 2
        return c
    if variant == "cpu":
        # The paper's protocol (5 seeds, 10 rounds, every strategy, word budget, batch size) in one
        # sitting on a CPU, sized on ATIS (benchmarks/RESULTS.md):
        # 100-dim embeddings and 100 units a direction, no character encoder (3.5x the cost of the
        # rest), Adam 5e-3 for the epochs of CPU, BALD with T = 20 whole-network
        # passes (T = 100 costs 5x as much a selection). The seeds train one after another: as
        # vmapped replicas they are slower on a CPU (benchmarks/al_replicas.py).
        c.model_cfg.embed_dim = 100
        c.model_cfg.hidden = 100
        c.model_cfg.chars = False
        c.optim.learning_rate = 5e-3
        c.al.bald.passes = 20
        c.update_from_flattened_dict(CPU[c.data.name])
        return c
    if variant == "smoke":
        c.model_cfg.embed_dim = 16
        c.model_cfg.hidden = 8
        c.model_cfg.decoder = 8
        c.data.limit = 400
        c.train.epochs = 1
        c.train.buckets = (32, 128)
        c.train.score_tokens = 8 * 128  # 8-row batches (chunks) of one length: few compilations
        c.train.score_buckets = (128,)
        c.al.seeds = (0,)
        c.al.rounds = 2
        c.al.initial_fraction = c.al.query_fraction = 0.05
        c.al.bald.passes = 4
        c.al.full_data_reference = False
    return c

"""Training and evaluating a tagger on a labeled subset (W-BADGE paper §5.2): the model, its
loss, greedy prediction, entity-F1 evaluation and the training of one round.

Training uses the data-parallel step of :mod:`tapjax.common.sharding` and the optimiser of
:func:`tapjax.common.optim.make_optimizer` (``config.optim``): the batch is split over every
device, and dropout keys are folded from each sentence's index so results do not depend on
the device count. Sentences are bucketed by length (:mod:`tapjax.al.sentence_batches`) so
XLA compiles one program per batch shape, and the compiled step and prediction are cached
per (model, optimiser config, mesh): every round of a run builds the same model and reuses
them. The model kept is the epoch with the best validation F1; its test F1 is reported.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from tqdm.auto import tqdm

from tapjax.al import vocabulary
from tapjax.al.corpora import Tagged
from tapjax.al.sentence_batches import inference_batches, training_batches
from tapjax.al.spans import f1_score
from tapjax.al.taggers import make_model
from tapjax.al.vocabulary import Encoded, Vocabs
from tapjax.common import sharding
from tapjax.common.cli import InputError
from tapjax.common.optim import make_optimizer


def per_example_keys(rng: jax.Array, index: jax.Array) -> jax.Array:
    """One dropout key per sentence, folded from its index (padding rows use index 0)."""
    return jax.vmap(lambda i: jax.random.fold_in(rng, i))(jnp.maximum(index, 0))


def apply_model(model, params, batch: dict, keys=None, teacher_forcing: bool = False):
    return model.apply(params, batch["words"], batch["mask"], batch.get("chars"), keys,
                       batch["tags"] if teacher_forcing else None)


def make_loss(model):
    """Token cross-entropy sum over real tokens (``loss_fn`` of ``sharding.make_train_step``)."""

    def loss_fn(params, batch, rng):
        out = apply_model(model, params, batch, per_example_keys(rng, batch["index"]), teacher_forcing=True)
        nll = optax.softmax_cross_entropy_with_integer_labels(out.logits, batch["tags"])
        return (nll * batch["mask"]).sum(), (batch["mask"].sum(), {})

    return loss_fn


@functools.lru_cache(maxsize=16)
def compiled_step(model, optim: ml_collections.FrozenConfigDict, steps_per_epoch: int, mesh):
    """``(train step, optimiser)`` for ``model`` under ``optim`` on ``mesh``, compiled once per
    distinct arguments (all hashable: a flax module, a frozen config, an int, a mesh)."""
    tx = make_optimizer(optim, steps_per_epoch)
    return sharding.make_train_step(make_loss(model), tx, mesh), tx


@functools.lru_cache(maxsize=16)
def compiled_predict(model, mesh):
    """Sharded greedy prediction ``(params, batch) -> pred [B, T]``, compiled once per (model, mesh)."""
    return sharding.make_eval_fn(lambda p, b: apply_model(model, p, b).pred, mesh)


def evaluate(predict, params, data: Encoded, tag_vocab, cfg, mesh) -> float:
    """Entity F1 (conlleval) of greedy predictions on every sentence of ``data``."""
    pred_tags: list = [None] * len(data)
    for batch in inference_batches(data, range(len(data)), cfg.score_tokens, cfg.score_buckets, cfg.max_word,
                                   mesh.devices.size):
        pred = np.asarray(predict(params, sharding.shard_batch(batch, mesh)))
        for row, i in enumerate(batch["index"]):
            if i >= 0:
                pred_tags[i] = tag_vocab.decode(pred[row, : len(data.words[i])])
    return f1_score(data.gold, pred_tags)["f1"]


def init_params(model, data: Encoded, cfg, key):
    batch = next(training_batches(data, [0], 1, cfg.buckets, cfg.max_word))
    return model.init(key, batch["words"], batch["mask"], batch.get("chars"))


def vocabularies(splits: dict[str, Tagged], model_cfg) -> Vocabs:
    """The run's vocabularies, the same every round: :meth:`Vocabs.build` on the training and
    validation text (``model_cfg.min_count``, ``model_cfg.chars``) with the word table of the
    pretrained vectors files ``model_cfg.vectors`` (:func:`vocabulary.load_vectors`, read once
    per run), if any; an unreadable or inconsistent vectors file is an :class:`InputError`."""
    vocabs = Vocabs.build(splits["train"], splits["validation"], model_cfg.min_count, model_cfg.chars)
    if model_cfg.vectors:
        try:
            vocabs.vectors = vocabulary.load_vectors(model_cfg.vectors, vocabs.words, model_cfg.embed_dim)
        except (ValueError, OSError) as error:
            raise InputError("model_cfg.vectors", str(error)) from None
    return vocabs


def with_pretrained(params, vocabs: Vocabs):
    """The word table replaced by the pretrained one (``vocabs.vectors``), if any."""
    if vocabs.vectors is not None:
        params["params"]["encoder"]["embed"]["embedding"] = jnp.asarray(vocabs.vectors)
    return params


def build_model(config, vocabs: Vocabs):
    """The configured model: a word table of a row per word of ``vocabs``, a character
    encoder when ``vocabs.chars`` is set. The vocabularies are the run's
    (:func:`vocabularies`), so every round builds the same model and reuses the compiled
    programs."""
    nchars = 0 if vocabs.chars is None else len(vocabs.chars)
    return make_model(config.model, len(vocabs.words), len(vocabs.tags), nchars, config.model_cfg)


def _steps_per_epoch(config, sentences: int) -> int:
    """Only a decaying learning rate depends on it; 1 otherwise, so every round shares one step."""
    return -(-sentences // config.train.batch_size) if config.optim.decay_epochs else 1


def train(config, train: Encoded, labeled: Sequence[int], val: Encoded, test: Encoded,
          vocabs: Vocabs, seed: int, mesh, desc: str = "train"):
    """Trains from scratch on ``train[labeled]``; returns ``(model, params, {val_f1, test_f1, best_epoch})``."""
    cfg = config.train
    model = build_model(config, vocabs)
    key = jax.random.key(seed)
    step, tx = compiled_step(model, ml_collections.FrozenConfigDict(config.optim),
                             _steps_per_epoch(config, len(labeled)), mesh)
    params = with_pretrained(init_params(model, train, cfg, key), vocabs)
    state = sharding.replicate(sharding.TrainState.create(params, tx), mesh)
    predict = compiled_predict(model, mesh)
    rng = np.random.default_rng(seed)
    best = (-1.0, None, -1)
    for epoch in tqdm(range(cfg.epochs), desc=desc, leave=False):
        for batch in training_batches(train, labeled, cfg.batch_size, cfg.buckets, cfg.max_word, rng):
            state, _ = step(state, sharding.shard_batch(batch, mesh), jax.random.fold_in(key, 1 + epoch))
        if epoch + 1 >= cfg.eval_from_epoch or epoch + 1 == cfg.epochs:
            f1 = evaluate(predict, state.params, val, vocabs.tags, cfg, mesh)
            if f1 > best[0]:
                best = (f1, jax.tree.map(jnp.copy, state.params), epoch + 1)
    val_f1, params, epoch = best
    test_f1 = evaluate(predict, params, test, vocabs.tags, cfg, mesh)
    return model, params, {"val_f1": val_f1, "test_f1": test_f1, "best_epoch": epoch}

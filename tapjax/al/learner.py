"""Training and evaluating a tagger on a labeled subset (W-BADGE paper §5.2): the model, its
loss, greedy prediction, entity-F1 evaluation and the training of one round.

Training uses the data-parallel step of :mod:`tapjax.common.sharding` and the optimiser of
``config.optim``; dropout keys are folded from each sentence's index, so results do not depend
on the device count. Sentences are bucketed by length (:mod:`tapjax.al.sentence_batches`), and
the compiled step and prediction are cached per (model, optimiser config, mesh), so every round
of a run reuses them. The model kept is the epoch of best validation F1.

The repeats of a round (§5.3: five) can train as replicas of one program (:func:`train_replicas`):
the step vmapped over a leading replica axis, each replica with its own batches, dropout keys and
best epoch, ending as :func:`train` alone would (up to float rounding).
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from tapjax.al import vocabulary
from tapjax.al.corpora import Tagged
from tapjax.al.sentence_batches import inference_batches, lockstep, training_batches
from tapjax.al.spans import f1_score
from tapjax.al.taggers import make_model
from tapjax.al.vocabulary import Encoded, Vocabs
from tapjax.common import sharding
from tapjax.common.errors import InputError
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


def _select(keep, new, old):
    """``new`` where ``keep``, else ``old``, leaf by leaf."""
    return jax.tree.map(lambda n, o: jnp.where(keep, n, o), new, old)


_keep_best = jax.jit(jax.vmap(_select))  # (improved [R], params [R, ...], best [R, ...]) -> best


@functools.lru_cache(maxsize=16)
def compiled_step(model, optim: ml_collections.FrozenConfigDict, steps_per_epoch: int, mesh):
    """``(train step, optimiser)`` for ``model`` under ``optim`` on ``mesh``, compiled once per
    distinct arguments (all hashable: a flax module, a frozen config, an int, a mesh).

    The step is :func:`sharding.make_train_step`'s vmapped over a leading replica axis:
    ``step(states, batches [R, B, ...], rngs [R], active [R]) -> states``. A replica that is
    not ``active`` keeps its whole state exactly (a zero-gradient Adam step would still move
    its parameters and moments)."""
    tx = make_optimizer(optim, steps_per_epoch)
    step = sharding.make_train_step(make_loss(model), tx, mesh)

    def replica_step(state, batch, rng, active):
        return _select(active, step(state, batch, rng)[0], state)

    return jax.jit(jax.vmap(replica_step), donate_argnums=(0,)), tx


@functools.lru_cache(maxsize=16)
def compiled_predict(model, mesh):
    """Sharded greedy prediction ``(params, batch) -> pred [B, T]``, compiled once per (model, mesh)."""
    return sharding.make_eval_fn(lambda p, b: apply_model(model, p, b).pred, mesh)


@functools.lru_cache(maxsize=16)
def compiled_predict_replicas(model, mesh):
    """:func:`compiled_predict` of replicas: ``(params [R, ...], batch) -> pred [R, B, T]``."""
    return jax.jit(jax.vmap(compiled_predict(model, mesh), in_axes=(0, None)))


def f1_scores(predict, replicas: int, data: Encoded, tag_vocab, cfg, mesh) -> list[float]:
    """Entity F1 (conlleval) of each replica's greedy predictions on every sentence of ``data``,
    ``predict(batch) -> pred [replicas, B, T]``."""
    pred_tags = [[None] * len(data) for _ in range(replicas)]
    for batch in inference_batches(data, range(len(data)), cfg.score_tokens, cfg.score_buckets, cfg.max_word,
                                   mesh.devices.size):
        pred = np.asarray(predict(sharding.shard_batch(batch, mesh)))
        for tags, rows in zip(pred_tags, pred):
            for row, i in enumerate(batch["index"]):
                if i >= 0:
                    tags[i] = tag_vocab.decode(rows[row, : len(data.words[i])])
    return [f1_score(data.gold, tags)["f1"] for tags in pred_tags]


def evaluate(predict, params, data: Encoded, tag_vocab, cfg, mesh) -> float:
    """Entity F1 (conlleval) of greedy predictions on every sentence of ``data``
    (``predict``: :func:`compiled_predict`)."""
    return f1_scores(lambda batch: predict(params, batch)[None], 1, data, tag_vocab, cfg, mesh)[0]


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


def _shard_replicas(batches: dict, mesh) -> dict:
    """Stacked batches ``[R, B, ...]`` placed as :func:`sharding.shard_batch` places one batch:
    each replica's ``B`` rows split over the mesh's data axis."""
    placement = NamedSharding(mesh, P(None, sharding.AXIS))
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(placement, x), batches)


def _initial_state(model, train: Encoded, vocabs: Vocabs, cfg, tx, seeds: Sequence[int], mesh):
    """The replicas' train states stacked on a leading axis: each initialised from its seed's key."""
    states = [sharding.TrainState.create(with_pretrained(init_params(model, train, cfg, jax.random.key(seed)), vocabs),
                                         tx) for seed in seeds]
    return sharding.replicate(jax.tree.map(lambda *leaves: jnp.stack(leaves), *states), mesh)


def _train_epoch(step, state, train: Encoded, labeled_sets, rngs, keys, epoch: int, cfg, mesh):
    """One epoch of every replica: its labeled sentences shuffled by its own ``rng``, dropout
    keys folded from its ``key`` and the epoch (:func:`lockstep` pads the steps to one shape)."""
    sequences = [list(training_batches(train, labeled, cfg.batch_size, cfg.buckets, cfg.max_word, rng))
                 for labeled, rng in zip(labeled_sets, rngs)]
    epoch_keys = jax.vmap(jax.random.fold_in, (0, None))(keys, 1 + epoch)
    for batches, active in lockstep(sequences):
        state = step(state, _shard_replicas(batches, mesh), epoch_keys, active)
    return state


def _train_together(config, model, train: Encoded, labeled_sets, val: Encoded, test: Encoded, vocabs: Vocabs,
                    seeds: Sequence[int], mesh, steps_per_epoch: int, desc: str) -> list[tuple]:
    """:func:`train_replicas` of replicas sharing one learning-rate schedule (``steps_per_epoch``)."""
    cfg = config.train
    step, tx = compiled_step(model, ml_collections.FrozenConfigDict(config.optim), steps_per_epoch, mesh)
    state = _initial_state(model, train, vocabs, cfg, tx, seeds, mesh)
    predict = compiled_predict_replicas(model, mesh)
    rngs, keys = [np.random.default_rng(seed) for seed in seeds], jnp.stack([jax.random.key(s) for s in seeds])
    best, best_f1, best_epoch = jax.tree.map(jnp.copy, state.params), np.full(len(seeds), -1.0), np.full(len(seeds), -1)
    stale, stopped = np.zeros(len(seeds), int), np.zeros(len(seeds), bool)
    for epoch in tqdm(range(cfg.epochs), desc=desc, leave=False):
        if stopped.all():
            break
        training = [[] if done else labeled for labeled, done in zip(labeled_sets, stopped)]
        state = _train_epoch(step, state, train, training, rngs, keys, epoch, cfg, mesh)
        if epoch + 1 >= cfg.eval_from_epoch or epoch + 1 == cfg.epochs:
            f1 = np.asarray(f1_scores(lambda batch: predict(state.params, batch), len(seeds), val, vocabs.tags,
                                      cfg, mesh))
            better = (f1 > best_f1) & ~stopped
            best = _keep_best(better, state.params, best)
            best_f1, best_epoch = np.where(better, f1, best_f1), np.where(better, epoch + 1, best_epoch)
            stale = np.where(better, 0, stale + 1)
            stopped |= (cfg.patience > 0) & (stale >= cfg.patience)
    test_f1 = f1_scores(lambda batch: predict(best, batch), len(seeds), test, vocabs.tags, cfg, mesh)
    return [(jax.tree.map(lambda x: x[r], best),
             {"val_f1": float(best_f1[r]), "test_f1": test_f1[r], "best_epoch": int(best_epoch[r])})
            for r in range(len(seeds))]


def train_replicas(config, train: Encoded, labeled_sets: Sequence[Sequence[int]], val: Encoded, test: Encoded,
                   vocabs: Vocabs, seeds: Sequence[int], mesh, desc: str = "train"):
    """Trains a model from scratch on ``train[labeled_sets[r]]`` with ``seeds[r]`` for every ``r``,
    as replicas of one vmapped program (module docstring); returns ``(model, [(params,
    {val_f1, test_f1, best_epoch})])``, replica by replica.

    Replica ``r`` sees what :func:`train` with ``seeds[r]`` sees: its initial parameters from
    ``jax.random.key(seeds[r])``, its batches in the order of ``np.random.default_rng(seeds[r])``,
    its epoch's dropout key folded from that key, its own model selection (the epoch of best
    validation F1) and early stopping: with ``train.patience`` > 0 a replica stops training after
    that many validations in a row without a better F1 (it sits the steps out while others go
    on; training ends when all have stopped or after ``train.epochs``). Replicas whose
    learning-rate schedules differ (a decay, ``optim.decay_epochs``, over epochs of another
    number of steps) train in separate programs.
    """
    devices = len(mesh.local_devices)
    if config.train.batch_size % devices:
        raise InputError("train.batch_size", f"{config.train.batch_size} rows do not split over {devices} devices")
    model = build_model(config, vocabs)
    groups: dict[int, list[int]] = {}
    for r, labeled in enumerate(labeled_sets):
        groups.setdefault(_steps_per_epoch(config, len(labeled)), []).append(r)
    results = {}
    for steps_per_epoch, group in groups.items():
        results.update(zip(group, _train_together(config, model, train, [labeled_sets[r] for r in group], val, test,
                                                  vocabs, [seeds[r] for r in group], mesh, steps_per_epoch, desc)))
    return model, [results[r] for r in range(len(seeds))]


def train(config, train: Encoded, labeled: Sequence[int], val: Encoded, test: Encoded,
          vocabs: Vocabs, seed: int, mesh, desc: str = "train"):
    """Trains from scratch on ``train[labeled]``; returns ``(model, params, {val_f1, test_f1, best_epoch})``
    (:func:`train_replicas` of one replica)."""
    model, [(params, results)] = train_replicas(config, train, [labeled], val, test, vocabs, [seed], mesh, desc)
    return model, params, results

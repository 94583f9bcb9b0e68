"""The seeds of an AL round trained as replicas of one vmapped program (W-BADGE paper §5.3: five
repeats): the same models as training them one after another, padding steps that leave a
replica untouched, lockstep batches, and the loop's outputs under either mode."""

import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments.configs import al_conll
from tapjax.al import corpora, learner, loop
from tapjax.al.sentence_batches import lockstep, training_batches
from tapjax.al.vocabulary import Vocabs
from tapjax.common import sharding
from tapjax.common.errors import InputError
from tapjax.common.optim import make_optimizer

ENTITIES = ("PER", "LOC")


def _corpus(rng, n):
    """Sentences of 1-50 words (both smoke buckets, 32 and 128); ``e{k}`` words are entities of type k % 2."""
    words, tags = [], []
    for length in rng.integers(1, 51, n):
        ids = rng.integers(0, 40, length)
        words.append([f"e{i}" if i < 8 else f"w{i}" for i in ids])
        tags.append([f"B-{ENTITIES[i % 2]}" if i < 8 else "O" for i in ids])
    return corpora.Tagged(words, tags)


@pytest.fixture(scope="module")
def setup():
    """``(config, vocabs, encoded train / validation / test)``: the smoke model, without its
    character encoder (fewer compilations), on a synthetic corpus."""
    rng = np.random.default_rng(0)
    train, val, test = _corpus(rng, 120), _corpus(rng, 40), _corpus(rng, 40)
    config = al_conll.get_config("smoke")
    config.model_cfg.chars = False
    config.train.epochs = 3
    vocabs = Vocabs.build(train, val, use_chars=False)
    return config, vocabs, *(vocabs.encode(c) for c in (train, val, test))


def _reference_train(config, train, labeled, val, test, vocabs, seed, mesh):
    """One model trained alone, as :func:`learner.train` did before replicas: the unvmapped
    step of :func:`sharding.make_train_step`, each batch at its own length."""
    cfg, model = config.train, learner.build_model(config, vocabs)
    tx = make_optimizer(config.optim)
    step = sharding.make_train_step(learner.make_loss(model), tx, mesh)
    key = jax.random.key(seed)
    params = learner.with_pretrained(learner.init_params(model, train, cfg, key), vocabs)
    state = sharding.replicate(sharding.TrainState.create(params, tx), mesh)
    predict, rng, best = learner.compiled_predict(model, mesh), np.random.default_rng(seed), (-1.0, None, -1)
    for epoch in range(cfg.epochs):
        for batch in training_batches(train, labeled, cfg.batch_size, cfg.buckets, cfg.max_word, rng):
            state, _ = step(state, sharding.shard_batch(batch, mesh), jax.random.fold_in(key, 1 + epoch))
        f1 = learner.evaluate(predict, state.params, val, vocabs.tags, cfg, mesh)
        if f1 > best[0]:
            best = (f1, jax.tree.map(jnp.copy, state.params), epoch + 1)
    val_f1, params, epoch = best
    return params, {"val_f1": val_f1, "test_f1": learner.evaluate(predict, params, test, vocabs.tags, cfg, mesh),
                    "best_epoch": epoch}


def _max_diff(a, b) -> float:
    return max(jax.tree.leaves(jax.tree.map(lambda x, y: float(np.abs(np.asarray(x) - np.asarray(y)).max()), a, b)))


def test_replicas_match_training_one_after_another(setup):
    """Three seeds on labeled sets of 30, 60 and 90 sentences (so the smaller sit out steps):
    the same parameters (to 1e-5), validation / test F1 and best epoch as each trained alone."""
    config, vocabs, train, val, test = setup
    mesh = sharding.data_mesh()
    labeled_sets = [np.random.default_rng(s).permutation(len(train))[:n] for s, n in ((0, 30), (1, 60), (2, 90))]
    seeds = [3, 1004, 2]
    _, replicas = learner.train_replicas(config, train, labeled_sets, val, test, vocabs, seeds, mesh)
    for labeled, seed, (params, results) in zip(labeled_sets, seeds, replicas):
        ref_params, ref_results = _reference_train(config, train, labeled, val, test, vocabs, seed, mesh)
        assert _max_diff(params, ref_params) < 1e-5
        assert results == ref_results


def test_a_replica_stops_after_patience_validations_without_a_better_f1(setup, monkeypatch):
    """Early stopping per replica (``train.patience``): a stopped replica sits out the next
    epochs while the others train on, and training ends once every replica has stopped."""
    config, vocabs, train, val, test = setup
    config = config.copy_and_resolve_references()
    config.train.update(epochs=9, patience=2)
    validations = iter([[0.1, 0.1], [0.2, 0.1], [0.3, 0.1], [0.3, 0.1], [0.4, 0.1], [0.4, 0.1], [0.4, 0.1],
                        [0.6, 0.2]])  # 7 epochs validated, then the test F1 of the best
    trained = []

    def epoch(step, state, train, labeled_sets, *rest):
        trained.append([len(labeled) for labeled in labeled_sets])
        return state

    monkeypatch.setattr(learner, "_train_epoch", epoch)
    monkeypatch.setattr(learner, "f1_scores", lambda *args: next(validations))
    _, out = learner.train_replicas(config, train, [range(20), range(30)], val, test, vocabs, [0, 1],
                                    sharding.data_mesh())
    assert trained == [[20, 30]] * 3 + [[20, 0]] * 4
    assert [(r["best_epoch"], r["val_f1"], r["test_f1"]) for _, r in out] == [(5, 0.4, 0.6), (1, 0.1, 0.2)]


def test_padding_steps_leave_a_replica_exactly_unchanged(setup):
    """A replica that sits a step out keeps its parameters, Adam moments and counts bit for bit
    (a zero-gradient Adam step would move them); the active one moves as the unvmapped step does."""
    config, vocabs, train, _, _ = setup
    mesh = sharding.data_mesh()
    model = learner.build_model(config, vocabs)
    step, tx = learner.compiled_step(model, ml_collections.FrozenConfigDict(config.optim), 1, mesh)
    keys = [jax.random.key(0), jax.random.key(1)]
    states = [sharding.TrainState.create(learner.init_params(model, train, config.train, k), tx) for k in keys]
    stacked = sharding.replicate(jax.tree.map(lambda *x: jnp.stack(x), *states), mesh)
    batch = next(training_batches(train, range(16), config.train.batch_size, config.train.buckets, 20))
    before = jax.device_get(stacked)
    after = jax.device_get(step(stacked, learner._shard_replicas({k: np.stack([v, v]) for k, v in batch.items()}, mesh),
                                jnp.stack(keys), np.array([True, False])))
    for old, new in zip(jax.tree.leaves(before), jax.tree.leaves(after)):
        assert np.array_equal(old[1], new[1])
    assert int(after.step[0]) == 1 and _max_diff(before.params, after.params) > 0
    alone, _ = sharding.make_train_step(learner.make_loss(model), tx, mesh)(
        sharding.replicate(states[0], mesh), sharding.shard_batch(batch, mesh), keys[0])
    assert _max_diff(jax.tree.map(lambda x: x[0], after), jax.device_get(alone)) < 1e-6


def test_lockstep_keeps_each_sequence_in_order_in_as_few_steps_as_the_longest():
    rng = np.random.default_rng(0)
    corpus = _corpus(rng, 120)
    train = Vocabs.build(corpus, corpora.Tagged([], []), use_chars=True).encode(corpus)  # chars [B, T, W] too
    sequences = [list(training_batches(train, rng.permutation(len(train))[:n], 8, (32, 128), 20, rng))
                 for n in (10, 40, 25)]
    steps = list(lockstep(sequences))
    assert len(steps) == max(map(len, sequences))
    for r, sequence in enumerate(sequences):
        seen = [{k: v[r] for k, v in batch.items()} for batch, active in steps if active[r]]
        assert len(seen) == len(sequence)
        for got, want in zip(seen, sequence):
            length = want["words"].shape[1]
            assert got["words"].shape[1] >= length and not got["mask"][:, length:].any()
            for k, v in want.items():
                assert np.array_equal(got[k][:, :length] if v.ndim > 1 else got[k], v)


def test_replicas_of_different_schedules_train_in_separate_programs(setup, monkeypatch):
    """With a decaying rate the schedule depends on the steps per epoch: replicas that differ in
    it train apart, each group as one program, and the results come back in the replicas' order."""
    config, vocabs, train, val, test = setup
    config = config.copy_and_resolve_references()
    config.optim.decay_epochs = 2
    groups = []

    def fake(config, model, train, labeled_sets, val, test, vocabs, seeds, mesh, steps_per_epoch, desc):
        groups.append((steps_per_epoch, list(seeds)))
        return [(seed, {}) for seed in seeds]

    monkeypatch.setattr(learner, "_train_together", fake)
    sizes, seeds = (20, 40, 17, 32), (0, 1, 2, 3)  # 2, 3, 2 and 2 steps of 16 sentences
    _, out = learner.train_replicas(config, train, [range(n) for n in sizes], val, test, vocabs, seeds,
                                    sharding.data_mesh())
    assert groups == [(2, [0, 2, 3]), (3, [1])] and [seed for seed, _ in out] == [0, 1, 2, 3]


def test_batch_size_must_split_over_the_devices(setup):
    config, vocabs, train, val, test = setup
    config = config.copy_and_resolve_references()
    config.train.batch_size = 12
    with pytest.raises(InputError, match="train.batch_size: 12 rows do not split over 8 devices"):
        learner.train_replicas(config, train, [range(20)], val, test, vocabs, [0], sharding.data_mesh())


def test_unknown_replicas_mode_is_refused(tmp_path):
    config = al_conll.get_config("smoke")
    config.train.replicas = "parallel"
    with pytest.raises(InputError, match="train.replicas: unknown mode 'parallel'; known: vmap, sequential"):
        loop.run(config, tmp_path)


def test_loop_writes_the_same_results_with_replicas_or_one_seed_after_another(data_root, tmp_path):
    lines = {}
    for mode in loop.REPLICAS:
        config = al_conll.get_config("smoke")
        config.data.root = str(data_root)
        config.model_cfg.chars = False  # fewer compilations
        config.al.update(seeds=(0, 1), strategies=("random", "wbadge"), rounds=1)
        config.train.replicas = mode
        loop.run(config, tmp_path / mode)
        lines[mode] = [json.loads(line) for line in (tmp_path / mode / "results.jsonl").read_text().splitlines()]
    assert len(lines["vmap"]) == 2 * 2 * 2
    assert lines["vmap"] == lines["sequential"]

"""Training and evaluation of TAP: ``train_and_evaluate(config, workdir)``.

One epoch is a pass over the length-bucketed training batches (order fixed by
``(seed, epoch)``), each step the data-parallel ``shard_map`` step of
:mod:`tapjax.common.sharding` on the Eq. 29 loss. After each epoch the model is validated
on the held-out part of train (never the test sets) by greedy decoding; the best
checkpoint by validation WER is kept and training stops after ``patience`` epochs
without improvement. At the end the best checkpoint is tested (beam ``eval.test_beam``)
on the ``eval.test_sets`` and ``workdir/results.json`` is written.

The config is checked before any work (:func:`validate`). A workdir that holds a run resumes
it from ``checkpoints/latest`` (``checkpoints/best`` if the latest is corrupt, with a warning)
if the config defines the same run: only the fields of :data:`MAY_CHANGE` may differ from its
``config.json`` (:mod:`tapjax.common.run_config`), which is then rewritten. Other changes are
refused; ``train.init_from=RUN`` in a new workdir starts a run from another run's weights.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
import tqdm

from tapjax.common import run_config, sharding
from tapjax.common.checkpoint import CheckpointMismatchError, Checkpoints, CorruptCheckpointError
from tapjax.common.cli import InputError, warn
from tapjax.common.metric_writer import MetricWriter
from tapjax.common.optim import make_optimizer
from tapjax.common.paths import dataset_dir
from tapjax.tap import crohme, decoding
from tapjax.tap.loss import tap_loss
from tapjax.tap.model import TAP
from tapjax.tap.runs import restore_params
from tapjax.tap.symbols import Vocab
from tapjax.tap.weight_noise import weight_noise

# What may change when a run resumes: decoding (validation/test beams, test sets, batch size),
# how long and how patiently to train, logging and checkpointing frequency, where the data and
# its cache live, the variant's name. Everything else defines the run (run_config module).
MAY_CHANGE = ("eval", "train.epochs", "train.patience", "train.time_budget_s", "train.stop_at_wer",
              "train.eval_every_epochs", "train.log_every", "train.checkpoint_every",
              "data.root", "data.cache_dir", "variant")


def validate(config: ml_collections.ConfigDict, workdir: str | Path) -> None:
    """Raises :class:`InputError` for a config that cannot train: an unknown split in
    ``eval.test_sets``, a missing data folder, a ``train.init_from`` (used by a new run) that is
    not a run with a best checkpoint."""
    for name in config.eval.test_sets:
        if name not in crohme.SPLITS:
            raise InputError("eval.test_sets", f"unknown split {name!r}; known: {', '.join(crohme.SPLITS)} "
                                               "(several: --config.eval.test_sets=\"('test2014','test2016')\")")
    _check_data(config)
    source = Path(config.train.init_from)
    starts = not (Path(workdir) / "checkpoints").exists()
    if config.train.init_from and starts and not (source / "checkpoints" / "best").is_dir():
        raise InputError(source, "train.init_from: not a training run with a best checkpoint")


def _check_data(config: ml_collections.ConfigDict) -> None:
    """The CROHME folders of the training split and the test sets must exist."""
    try:
        root = dataset_dir("crohme", config.data.root or None)
    except FileNotFoundError as error:
        raise InputError("data", str(error)) from None
    for name in ("train", *config.eval.test_sets):
        if not (root / crohme.FOLDERS[name]).is_dir():
            raise InputError(root / crohme.FOLDERS[name], f"missing: the folder of the {name} split")


def make_loss_fn(model: TAP, config: ml_collections.ConfigDict):
    """``loss_fn(params, batch, rng)`` for :func:`sharding.make_train_step` (Eq. 29, weight noise)."""

    def loss_fn(params, batch, rng):
        return tap_loss(model, weight_noise(params, rng, config.train.weight_noise), batch,
                        config.train.guider_weight)

    return loss_fn


def load_data(config: ml_collections.ConfigDict):
    """``(vocab, train split, validation split)``; ``overfit`` validates on its training subset.

    ``data.train_limit`` keeps the first expressions of train (only those with at most
    ``data.train_max_points`` points, if set).
    """
    data_dir, cache_dir = config.data.root or None, config.data.cache_dir or None
    vocab = Vocab.from_data_root(data_dir)
    train = crohme.load_split("train", data_dir, cache_dir)
    rows = np.arange(len(train))
    if config.data.train_max_points:
        rows = rows[[len(f) <= config.data.train_max_points for f in train.features]]
    if config.data.train_max_points or config.data.train_limit:
        train = train.take(rows[: config.data.train_limit or None])
    valid = train if config.data.valid_is_train else crohme.load_split("valid", data_dir, cache_dir)
    return vocab, train, valid


def _initial_record(model, config, tx, mesh, checkpoints: Checkpoints) -> dict:
    """The run's latest record (its best if the latest is corrupt), or a new one: parameters
    initialised from ``train.seed``, or from ``train.init_from``'s best checkpoint."""
    rng = jax.random.key(config.train.seed)
    state = sharding.replicate(sharding.TrainState.create(model.init(jax.random.fold_in(rng, 0)), tx), mesh)
    record = {"state": state, "epoch": 0, "step_in_epoch": 0, "rng": rng, "best_wer": math.inf,
              "bad_epochs": 0, "train_seconds": 0.0}
    restored = checkpoints.restore_first(("latest", "best"), record)
    if restored is not None:
        return _as_python(restored)
    if config.train.init_from:  # e.g. the weight-noise annealing stage, from a finished run's best
        state = sharding.TrainState.create(_init_from(model, config), tx)
        record["state"] = sharding.replicate(state, mesh)
    return record


def _init_from(model, config):
    """The best parameters of the run ``train.init_from``."""
    source = Checkpoints(config.train.init_from)
    try:
        params = restore_params(source, model, config)
    except CheckpointMismatchError as error:
        raise InputError(config.train.init_from, f"train.init_from: not a run of this model ({error})") from None
    finally:
        source.close()
    if params is None:
        raise InputError(config.train.init_from, "train.init_from: no best checkpoint there")
    return params


def _as_python(record: dict) -> dict:
    """Counters back to Python scalars after a restore (the state stays on device)."""
    out = dict(record)
    for k in ("epoch", "step_in_epoch", "bad_epochs"):
        out[k] = int(out[k])
    for k in ("best_wer", "train_seconds"):
        out[k] = float(out[k])
    return out


def train_epoch(record, step_fn, model, train, vocab, config, mesh, writer, checkpoints) -> dict:
    """Runs the rest of epoch ``record["epoch"]``; returns the record at the epoch's end."""
    epoch, skip = record["epoch"], record["step_in_epoch"]
    n = mesh.devices.size
    bs = config.train.batch_size
    bar = tqdm.tqdm(initial=skip, desc=f"epoch {epoch}", unit="batch")
    start = time.time()
    batches = decoding.split_batches(train, vocab, config, model.stride, batch_size=bs, shuffle=True, epoch=epoch,
                                     num_devices=n, max_tokens=config.data.max_tokens or None)
    for i, batch in enumerate(batches):
        if i < skip:
            continue
        state = record["state"]
        rng = jax.random.fold_in(record["rng"], state.step)
        state, metrics = step_fn(state, sharding.shard_batch(batch, mesh), rng)
        record = dict(record, state=state, step_in_epoch=i + 1)
        step = int(state.step)
        if step % config.train.log_every == 0:
            metrics = jax.device_get(metrics)
            bar.set_postfix(loss=f"{metrics['loss']:.3f}", acc=f"{metrics['correct']:.3f}")
            writer.write(step, "train", metrics)
        bar.update(1)
        if config.train.checkpoint_every and step % config.train.checkpoint_every == 0:
            checkpoints.save("latest", step, _timed(record, start))
        if config.train.time_budget_s and _timed(record, start)["train_seconds"] > config.train.time_budget_s:
            break
    bar.close()
    return _timed(record, start)


def _timed(record: dict, start: float) -> dict:
    return dict(record, train_seconds=record["train_seconds"] + time.time() - start)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains (resuming ``workdir`` if it holds a run), tests the best checkpoint, writes results.json."""
    validate(config, workdir)
    run_config.check_resume(workdir, config, MAY_CHANGE, hint="use another --workdir "
                            "(--config.train.init_from=<this run> starts a new run from its best weights)")
    run_config.save(workdir, config)
    workdir = Path(workdir)
    model = TAP.from_config(config.model)
    vocab, train, valid = load_data(config)
    mesh = sharding.data_mesh()
    # An epoch's steps, for the schedule: length bucketing adds at most one partial batch per bucket.
    tx = make_optimizer(config.optim, steps_per_epoch=-(-len(train) // config.train.batch_size))
    step_fn = sharding.make_train_step(make_loss_fn(model, config), tx, mesh)
    checkpoints = Checkpoints(workdir)
    record = _initial_record(model, config, tx, mesh, checkpoints)
    writer = MetricWriter(workdir)

    while record["epoch"] < config.train.epochs and record["bad_epochs"] < config.train.patience:
        epoch_start = record["train_seconds"]
        record = train_epoch(record, step_fn, model, train, vocab, config, mesh, writer, checkpoints)
        out_of_time = config.train.time_budget_s and record["train_seconds"] > config.train.time_budget_s
        if (record["epoch"] + 1) % config.train.eval_every_epochs and not out_of_time:
            record = dict(record, epoch=record["epoch"] + 1, step_in_epoch=0)
            continue
        step = int(record["state"].step)
        scores = decoding.score(model, record["state"].params, valid, vocab, config, stride=model.stride,
                                beam=config.eval.valid_beam)
        writer.write(step, "valid", {**scores, "epoch_seconds": record["train_seconds"] - epoch_start})
        improved = scores["wer"] < record["best_wer"]
        record = dict(record, epoch=record["epoch"] + 1, step_in_epoch=0,
                      best_wer=min(scores["wer"], record["best_wer"]),
                      bad_epochs=0 if improved else record["bad_epochs"] + 1)
        tqdm.tqdm.write(f"epoch {record['epoch'] - 1}: valid WER {scores['wer']:.4f} ExpRate {scores['exprate']:.4f}"
                        f" (best WER {record['best_wer']:.4f})")
        if improved:
            checkpoints.save("best", step, record)
        checkpoints.save("latest", step, record)
        if out_of_time or scores["wer"] <= config.train.stop_at_wer:
            break

    results = test(model, config, vocab, train, checkpoints, record)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    writer.close()
    checkpoints.close()
    return results


def test(model, config, vocab, train, checkpoints, record) -> dict:
    """Scores the best checkpoint (the last state, with a warning, if it is corrupt) on the test
    sets (and on train for ``overfit``)."""
    try:
        best = checkpoints.restore("best", record)
    except CorruptCheckpointError as error:
        warn(f"{error}; testing the last state instead")
        best = None
    params = (best or record)["state"].params
    results = {"device": str(jax.devices()[0].device_kind), "num_devices": jax.device_count(),
               "train_seconds": record["train_seconds"], "epochs": record["epoch"],
               "steps": int(record["state"].step), "best_valid_wer": record["best_wer"]}
    for name in config.eval.test_sets:
        split = crohme.load_split(name, config.data.root or None, config.data.cache_dir or None)
        results[name] = decoding.score(model, params, split, vocab, config, stride=model.stride,
                                       beam=config.eval.test_beam)
        tqdm.tqdm.write(f"{name}: {results[name]}")
    if config.data.valid_is_train:
        results["train"] = decoding.score(model, params, train, vocab, config, stride=model.stride, beam=1)
        tqdm.tqdm.write(f"train: {results['train']}")
    return results

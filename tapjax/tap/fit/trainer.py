"""Training and evaluation of TAP or WAP: ``train_and_evaluate(config, workdir)``.

``model.family`` picks the model (:mod:`tapjax.tap.nets.families`). An epoch is a pass over the
length-bucketed training batches (order fixed by ``(seed, epoch)``), each step the ``shard_map``
step of :mod:`tapjax.common.sharding` on the Eq. 29 loss (:mod:`tapjax.tap.nets.loss`; its
variational form in the weight-noise stage, :mod:`tapjax.tap.nets.weight_noise`). After each
epoch the model is validated on ``data.valid`` (CROHME 2013 test, a held-out 5 % of train, or
for ``overfit`` the training set; never a test set) and the best checkpoint by WER is kept.
Early stopping follows the authors' ``nmt.py``: when validations no better than the best (a tie
counts as better) exceed ``train.patience`` in a row, the step size is cut (:func:`_cut_if_due`),
until ``train.lr_cuts`` cuts are made and patience runs out once more. Finally the best
checkpoint is tested on ``eval.test_sets`` and ``workdir/results.json`` is written.

The config is checked first (:func:`validate`). A workdir holding a run resumes it from
``checkpoints/latest`` (``best`` if the latest is corrupt, with a warning) if only fields of
:data:`MAY_CHANGE` differ from its ``config.json``; anything else is refused, and so is a run of
another config version (:mod:`tapjax.common.run_config`).
``train.init_from`` starts a new run from another run's best weights or an exported model's,
validated first and kept as the best until beaten.
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

from tapjax.common import optim, precompile, run_config, sharding
from tapjax.common.checkpoint import CheckpointMismatchError, Checkpoints, CorruptCheckpointError
from tapjax.common.errors import InputError, warn
from tapjax.common.metric_writer import MetricWriter
from tapjax.common.paths import dataset_dir
from tapjax.tap.fit import averaging
from tapjax.tap.ink import augment, crohme
from tapjax.tap.ink.symbols import Vocab
from tapjax.tap.nets import families, weight_noise
from tapjax.tap.nets.loss import AVERAGES
from tapjax.tap.read import decoding, exported, runs

# What may change when a run resumes: decoding (validation/test beams, test sets, batch size),
# how long and how patiently to train (epochs, patience, step-size cuts), logging and checkpointing
# frequency, where the data and its cache live, the variant's name. Everything else defines the run
# (run_config module).
MAY_CHANGE = ("eval", "train.epochs", "train.patience", "train.lr_cuts", "train.noise_lr_cuts",
              "train.time_budget_s", "train.stop_at_wer", "train.eval_every_epochs", "train.log_every",
              "train.checkpoint_every", "data.root", "data.cache_dir", "variant")
# data.valid: the split that validates (None: the training set itself).
VALID_SPLITS = {"test2013": "test2013", "heldout": "valid", "train": None}


def validate(config: ml_collections.ConfigDict, workdir: str | Path) -> None:
    """Raises :class:`InputError` for a config that cannot train: an unknown split in
    ``eval.test_sets``, an unknown choice in ``data.valid``, ``train.weight_noise`` or
    ``train.loss_average``, step-size cuts without ``optim.lr_cut_factor``, a negative
    ``train.average_last`` or one with adaptive weight noise, an ``augment`` setting out of range,
    a missing data folder
    (of train, the validation split, the test sets), a ``train.init_from`` (used by a new run) that
    is not a run with a best checkpoint, an unknown ``model.family``, adaptive weight noise for a
    family with model state (WAP: not set up)."""
    try:
        model = families.build(config)
    except ValueError as error:
        raise InputError("model", str(error)) from None
    if families.stateful(model) and weight_noise.is_adaptive(config.train):
        raise InputError("train.weight_noise", f"adaptive weight noise is not set up for model.family "
                                               f"{families.name(config)!r}")
    for name in config.eval.test_sets:
        if name not in crohme.SPLITS:
            raise InputError("eval.test_sets", f"unknown split {name!r}; known: {', '.join(crohme.SPLITS)} "
                                               "(several: --config.eval.test_sets=\"('test2014','test2016')\")")
    for block, field, choices in (("data", "valid", tuple(VALID_SPLITS)), ("train", "loss_average", AVERAGES),
                                  ("train", "weight_noise", ("none", "adaptive"))):
        if config[block][field] not in choices:
            raise InputError(f"{block}.{field}", f"{config[block][field]!r}: choose one of {', '.join(choices)}")
    if lr_cuts(config) and not config.optim.lr_cut_factor:
        raise InputError("optim.lr_cut_factor", "step-size cuts (train.lr_cuts) need a factor to cut by")
    if averaging.average_last(config) < 0 or (averaging.average_last(config)
                                              and weight_noise.is_adaptive(config.train)):
        raise InputError("train.average_last", f"{averaging.average_last(config)}: a count >= 0, and 0 in the "
                                               "adaptive weight-noise stage (its weights are a posterior)")
    try:
        augment.Settings.from_config(config.augment)
    except ValueError as error:
        raise InputError("augment", str(error)) from None
    _check_data(config)
    source = Path(config.train.init_from)
    starts = not (Path(workdir) / "checkpoints").exists()
    usable = (source / "checkpoints" / "best").is_dir() or exported.exported(source)
    if config.train.init_from and starts and not usable:
        raise InputError(source, "train.init_from: neither a training run with a best checkpoint nor an exported model")


def _check_data(config: ml_collections.ConfigDict) -> None:
    """The CROHME folders of the training split, the validation split and the test sets must exist."""
    try:
        root = dataset_dir("crohme", config.data.root or None)
    except FileNotFoundError as error:
        raise InputError("data", str(error)) from None
    for name in ("train", VALID_SPLITS[config.data.valid] or "train", *config.eval.test_sets):
        if not (root / crohme.FOLDERS[name]).is_dir():
            raise InputError(root / crohme.FOLDERS[name], f"missing: the folder of the {name} split")


def lr_cuts(config: ml_collections.ConfigDict) -> int:
    """The step-size cuts a run may make: ``train.lr_cuts``, in the adaptive weight-noise stage
    ``train.noise_lr_cuts`` (the authors' ``nmt.py`` cuts once, ``nmt_weightnoise.py`` twice)."""
    return config.train.noise_lr_cuts if weight_noise.is_adaptive(config.train) else config.train.lr_cuts


def complexity_weight(config: ml_collections.ConfigDict, num_train: int) -> float:
    """The adaptive weight noise's complexity weight per batch: ``train.noise_complexity`` per
    training expression (:mod:`tapjax.tap.nets.weight_noise`)."""
    return config.train.noise_complexity / num_train


def make_loss_fn(model, config: ml_collections.ConfigDict, num_train: int = 1):
    """The loss for :func:`sharding.make_train_step` (stateful for WAP): Eq. 29, averaged as
    ``train.loss_average`` (:func:`tapjax.tap.nets.families.loss_fn`); in the adaptive weight-noise
    stage over a posterior of ``num_train`` training expressions."""
    loss_fn = families.loss_fn(model, config)
    if weight_noise.is_adaptive(config.train):
        return weight_noise.variational_loss(loss_fn, complexity_weight(config, num_train))
    return loss_fn


def load_data(config: ml_collections.ConfigDict):
    """``(vocab, train split, validation split)`` (module docstring; ``data.valid``).

    ``data.train_limit`` keeps the first expressions of train (only those with at most
    ``data.train_max_points`` points, if set).
    """
    vocab = Vocab.from_data_root(config.data.root or None)
    valid_split = VALID_SPLITS[config.data.valid]
    train = (load_split("train", config) if valid_split == "valid"
             else load_split("train", config, valid_fraction=0.0))  # the whole folder
    rows = np.arange(len(train))
    if config.data.train_max_points:
        rows = rows[[len(f) <= config.data.train_max_points for f in train.features]]
    if config.data.train_max_points or config.data.train_limit:
        train = train.take(rows[: config.data.train_limit or None])
    valid = load_split(valid_split, config) if valid_split else train
    return vocab, train, valid


def load_split(name: str, config: ml_collections.ConfigDict, **kwargs) -> crohme.Split:
    """:func:`crohme.load_split` with the run's data root and cache (``data`` block)."""
    return crohme.load_split(name, config.data.root or None, config.data.cache_dir or None, **kwargs)


def _initial_record(model, config, tx, mesh, checkpoints: Checkpoints) -> dict:
    """The run's latest record (its best if the latest is corrupt), or a new one: parameters
    initialised from ``train.seed``, or from ``train.init_from``'s best weights; in the adaptive
    weight-noise stage, a posterior around them."""
    rng = jax.random.key(config.train.seed)
    params, model_state = families.init(model, jax.random.fold_in(rng, 0))
    state = sharding.replicate(sharding.TrainState.create(weight_noise.train_params(params, config.train), tx,
                                                          model_state), mesh)
    record = {"state": state, "epoch": 0, "step_in_epoch": 0, "rng": rng, "best_wer": math.inf,
              "bad_epochs": 0, "train_seconds": 0.0}
    restored = checkpoints.restore_first(("latest", "best"), record)
    if restored is not None:
        return _as_python(restored)
    if config.train.init_from:  # e.g. the weight-noise annealing stage, from a finished run's best
        params, model_state = _init_from(model, config)
        params = weight_noise.train_params(params, config.train)
        record["state"] = sharding.replicate(sharding.TrainState.create(params, tx, model_state), mesh)
    return record


def _init_from(model, config) -> tuple:
    """``(params, model_state)`` to start from: the best weights of the run ``train.init_from``
    (restored as its own config has them; the means under weight noise), or those of the exported
    model there (:func:`_exported_start`)."""
    if exported.exported(config.train.init_from):
        return _exported_start(model, config)
    source = Checkpoints(config.train.init_from)
    try:
        state = runs.restore_state(source, model, runs.load_config(config.train.init_from))
    except CheckpointMismatchError as error:
        raise InputError(config.train.init_from, f"train.init_from: not a run of this model ({error})") from None
    finally:
        source.close()
    if state is None:
        raise InputError(config.train.init_from, "train.init_from: no best checkpoint there")
    return weight_noise.means(state.params), getattr(state, "model_state", None)


def _exported_start(model, config) -> tuple:
    """``(params, model_state)`` of the exported model ``train.init_from`` (e.g. the shipped one,
    ``tapjax/tap/read/weights``: training goes on from its float16 weights, in float32, with a fresh
    optimiser), which must be a model of ``config.model`` over the training data's vocabulary."""
    source = runs.load_exported(config.train.init_from)
    differ = runs.model_differences(source.config, config)
    if differ:
        raise InputError(config.train.init_from, "train.init_from: an exported model of another model config, "
                                                 "differing (its vs this run's) in " + ", ".join(differ))
    if source.vocab.symbols != Vocab.from_data_root(config.data.root or None).symbols:
        raise InputError(config.train.init_from,
                         "train.init_from: the exported model's vocabulary is not the training data's")
    if not families.stateful(model):
        return source.params, None
    variables = dict(source.params)
    return variables.pop("params"), variables


def _as_python(record: dict) -> dict:
    """Counters back to Python scalars after a restore (the state stays on device)."""
    out = dict(record)
    for k in ("epoch", "step_in_epoch", "bad_epochs"):
        out[k] = int(out[k])
    for k in ("best_wer", "train_seconds"):
        out[k] = float(out[k])
    return out


def epoch_batches(train, model, vocab, config: ml_collections.ConfigDict, epoch: int, mesh):
    """The training batches of ``epoch``: its augmented expressions (:mod:`tapjax.tap.ink.augment`),
    shuffled within length buckets."""
    return decoding.split_batches(augment.for_epoch(train, config, epoch), vocab, config,
                                  families.inputs_of(model, config), batch_size=config.train.batch_size,
                                  shuffle=True, epoch=epoch, num_devices=mesh.devices.size,
                                  max_tokens=config.data.max_tokens or None)


def compile_steps(record, step_fn, model, train, vocab, config: ml_collections.ConfigDict, mesh) -> None:
    """Compiles the train step for every batch shape of the record's epoch at once, before the
    clock starts (:mod:`tapjax.common.precompile`): the time budget counts training steps, not
    compilation, which on an accelerator can outlast an epoch."""
    shapes = precompile.distinct(epoch_batches(train, model, vocab, config, record["epoch"], mesh))
    seconds = precompile.compile_all(step_fn, [_step_args(record, record["train_seconds"], batch, config, mesh)
                                               for batch in shapes])
    tqdm.tqdm.write(f"compiled the train step for {len(shapes)} batch shapes in {seconds:.1f} s")


def train_epoch(record, step_fn, model, train, vocab, config, mesh, writer, checkpoints) -> dict:
    """Runs the rest of epoch ``record["epoch"]``; returns the record at the epoch's end."""
    epoch, skip = record["epoch"], record["step_in_epoch"]
    bar = tqdm.tqdm(initial=skip, desc=f"epoch {epoch}", unit="batch")
    start = time.time()
    for i, batch in enumerate(epoch_batches(train, model, vocab, config, epoch, mesh)):
        if i < skip:
            continue
        state, metrics = step_fn(*_step_args(record, _timed(record, start)["train_seconds"], batch, config, mesh))
        record = dict(record, state=state, step_in_epoch=i + 1)
        step = int(state.step)
        if step % config.train.log_every == 0:
            metrics = jax.device_get(metrics)
            metrics["accuracy"] = metrics["correct"] / metrics["tokens"]
            bar.set_postfix(loss=f"{metrics['loss']:.3f}", acc=f"{metrics['accuracy']:.3f}")
            writer.write(step, "train", metrics)
        bar.update(1)
        if config.train.checkpoint_every and step % config.train.checkpoint_every == 0:
            checkpoints.save("latest", step, _timed(record, start))
        if config.train.time_budget_s and _timed(record, start)["train_seconds"] > config.train.time_budget_s:
            break
    bar.close()
    return _timed(record, start)


def _step_args(record, seconds: float, batch: dict, config: ml_collections.ConfigDict, mesh) -> tuple:
    """The train step's arguments for ``batch`` after ``seconds`` of training: the state (told the
    share of the budget spent), the batch sharded over ``mesh``, the step's key."""
    state = _spend(record["state"], seconds, config)
    return state, sharding.shard_batch(batch, mesh), jax.random.fold_in(record["rng"], state.step)


def _spend(state, seconds: float, config: ml_collections.ConfigDict):
    """``state`` whose optimiser knows the share of ``train.time_budget_s`` spent (its schedule's clock
    with ``optim.schedule_clock="budget"``, :mod:`tapjax.common.optim`)."""
    if not config.train.time_budget_s:
        return state
    return state.replace(opt_state=optim.spend(state.opt_state, seconds / config.train.time_budget_s))


def _timed(record: dict, start: float) -> dict:
    return dict(record, train_seconds=record["train_seconds"] + time.time() - start)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains (resuming ``workdir`` if it holds a run), tests the best checkpoint, writes results.json."""
    validate(config, workdir)
    run_config.check_resume(workdir, config, MAY_CHANGE, hint="use another --workdir "
                            "(--config.train.init_from=<this run> starts a new run from its best weights)")
    run_config.save(workdir, config)
    workdir = Path(workdir)
    model = families.build(config)
    vocab, train, valid = load_data(config)
    mesh = sharding.data_mesh()
    # An epoch's steps, for the schedule: length bucketing adds at most one partial batch per bucket.
    tx = weight_noise.optimizer(config, steps_per_epoch=-(-len(train) // config.train.batch_size),
                                weight=complexity_weight(config, len(train)))
    step_fn = sharding.make_train_step(make_loss_fn(model, config, len(train)), tx, mesh, families.stateful(model))
    checkpoints = Checkpoints(workdir)
    record = _initial_record(model, config, tx, mesh, checkpoints)
    writer = MetricWriter(workdir)
    kept = averaging.series(workdir, config)
    validation = dict(model=model, valid=valid, vocab=vocab, config=config, writer=writer, checkpoints=checkpoints,
                      kept=kept)
    if config.train.init_from and checkpoints.latest_step("best") is None:  # a new run: its start is its best
        record, _ = _validate(record, **validation)

    if record["epoch"] < config.train.epochs:
        compile_steps(record, step_fn, model, train, vocab, config, mesh)
    while record["epoch"] < config.train.epochs:
        record = _cut_if_due(record, config)
        if record["bad_epochs"] > config.train.patience:
            break
        epoch_start = record["train_seconds"]
        record = train_epoch(record, step_fn, model, train, vocab, config, mesh, writer, checkpoints)
        out_of_time = config.train.time_budget_s and record["train_seconds"] > config.train.time_budget_s
        record = dict(record, epoch=record["epoch"] + 1, step_in_epoch=0)
        if record["epoch"] % config.train.eval_every_epochs and not out_of_time:
            continue
        record, wer = _validate(record, **validation, epoch_seconds=record["train_seconds"] - epoch_start)
        if out_of_time or wer <= config.train.stop_at_wer:
            break

    _validate_average(record, **validation)
    results = test(model, config, vocab, train, checkpoints, record)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    writer.close()
    checkpoints.close()
    if kept is not None:
        kept.close()
    return results


def _validate(record, model, valid, vocab, config, writer, checkpoints, kept=None, epoch_seconds: float = 0.0):
    """Scores the record's state (its means) on ``valid``, updates the early-stopping record (a WER no
    higher than the best is an improvement, as the authors' ``valid_err <= min(history_errs)``) and
    saves it: as best if it improved, as latest (and its parameters into ``kept``, for
    :mod:`~tapjax.tap.fit.averaging`). Returns ``(record, WER)``."""
    step = int(record["state"].step)
    averaging.remember(kept, step, record["state"].params)
    state = record["state"]
    scores = decoding.score(model, families.state_variables(model, state, weight_noise.means(state.params)), valid,
                            vocab, config, kinds=families.inputs_of(model, config), beam=config.eval.valid_beam)
    writer.write(step, "valid", {**scores, "epoch_seconds": epoch_seconds})
    improved = scores["wer"] <= record["best_wer"]
    record = dict(record, best_wer=min(scores["wer"], record["best_wer"]),
                  bad_epochs=0 if improved else record["bad_epochs"] + 1)
    tqdm.tqdm.write(f"epoch {record['epoch']}: valid WER {scores['wer']:.4f} ExpRate {scores['exprate']:.4f}"
                    f" (best WER {record['best_wer']:.4f})")
    if improved:
        checkpoints.save("best", step, record)
    checkpoints.save("latest", step, record)
    return record, scores["wer"]


def _validate_average(record, model, valid, vocab, config, writer, checkpoints, kept=None) -> None:
    """Scores the mean of the kept validated parameters (:mod:`tapjax.tap.fit.averaging`) on ``valid`` and
    saves it as the best checkpoint if it validates no worse than the best single one."""
    if kept is None or len(kept.steps()) < 2:
        return
    params, count = averaging.average(kept, record["state"].params)
    scores = decoding.score(model, families.state_variables(model, record["state"], params), valid, vocab, config,
                            kinds=families.inputs_of(model, config), beam=config.eval.valid_beam)
    step = int(record["state"].step)
    writer.write(step, "valid_average", {**scores, "averaged": count})
    kept_best = scores["wer"] <= record["best_wer"]
    tqdm.tqdm.write(f"mean of the last {count} validated weights: valid WER {scores['wer']:.4f} ExpRate "
                    f"{scores['exprate']:.4f} ({'the new best' if kept_best else 'not kept'})")
    if kept_best:
        checkpoints.save("best", step,
                         dict(record, state=record["state"].replace(params=params), best_wer=scores["wer"]))


def _cut_if_due(record: dict, config: ml_collections.ConfigDict) -> dict:
    """Once bad validations in a row exceed ``train.patience`` with a cut left (:func:`lr_cuts`), the
    record with the step size cut and the count restarted: the authors' "Lr decay and retrain!"
    (``lrate /= 10; bad_counter = 0``; their ``params = best_p`` there does not reach the trained
    weights, so training goes on from the current ones). Otherwise the record as it is. The cut
    lives in the optimiser state, so a resumed run redoes nothing (:mod:`tapjax.common.optim`)."""
    state = record["state"]
    if record["bad_epochs"] <= config.train.patience or optim.cuts(state.opt_state) >= lr_cuts(config):
        return record
    tqdm.tqdm.write(f"epoch {record['epoch']}: {record['bad_epochs']} validations without improvement: "
                    f"step size cut by {config.optim.lr_cut_factor:g}")
    return dict(record, state=state.replace(opt_state=optim.cut(state.opt_state)), bad_epochs=0)


def test(model, config, vocab, train, checkpoints, record) -> dict:
    """Scores the best checkpoint (the last state, with a warning, if it is corrupt) on the test
    sets (and on train when it validates, ``overfit``), decoding with the means under weight noise."""
    try:
        best = checkpoints.restore("best", record)
    except CorruptCheckpointError as error:
        warn(f"{error}; testing the last state instead")
        best = None
    state = (best or record)["state"]
    params = families.state_variables(model, state, weight_noise.means(state.params))
    kinds = families.inputs_of(model, config)
    results = {"device": str(jax.devices()[0].device_kind), "num_devices": jax.device_count(),
               "train_seconds": record["train_seconds"], "epochs": record["epoch"],
               "steps": int(record["state"].step), "best_valid_wer": record["best_wer"]}
    for name in config.eval.test_sets:
        split = load_split(name, config)
        results[name] = decoding.score(model, params, split, vocab, config, kinds=kinds, beam=config.eval.test_beam)
        tqdm.tqdm.write(f"{name}: {results[name]}")
    if VALID_SPLITS[config.data.valid] is None:
        results["train"] = decoding.score(model, params, train, vocab, config, kinds=kinds, beam=1)
        tqdm.tqdm.write(f"train: {results['train']}")
    return results

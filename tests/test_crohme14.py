"""The crohme14 experiment: every config variant trains, and a small real run overfits 8 expressions
(the session's shared ``overfit_run`` fixture, tests/conftest.py); a run resumes only under the
same config, falls back to its best checkpoint when the latest is corrupt, and an unusable config
or workdir is one error line before anything is written. The paper's regime is the authors': early
stopping with a step-size cut, validation on CROHME 2013 test, the adaptive weight-noise stage."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.common import optim, sharding
from tapjax.common.checkpoint import Checkpoints
from tapjax.common.errors import InputError
from tapjax.common.optim import make_optimizer
from tapjax.tap.fit import averaging, trainer
from tapjax.tap.ink import augment
from tapjax.tap.nets import weight_noise
from tapjax.tap.nets.model import TAP
from tapjax.tap.read import exported, runs

TINY_SIZES = dict(tracker_hidden=4, embed_dim=4, parser_hidden=4, attention_dim=4, coverage_kernel=3,
                  coverage_filters=2, maxout_dim=4)


def _tiny_batch():
    rng = np.random.default_rng(0)
    return {"features": rng.normal(size=(2, 8, 8)).astype(np.float32), "feature_mask": np.ones((2, 8), np.float32),
            "tokens": np.array([[5, 0], [7, 0]], np.int32), "token_mask": np.ones((2, 2), np.float32),
            "align": np.ones((2, 2, 8), np.uint8) * np.array([1, 0], np.uint8)[None, :, None],
            "index": np.arange(2, dtype=np.int32)}


@pytest.mark.parametrize("variant", crohme14.VARIANTS)
def test_every_variant_builds_and_takes_a_step(variant):
    config = crohme14.get_config(variant)
    config.model.update(TINY_SIZES)
    model = TAP.from_config(config.model)
    assert model.config.temporal == (variant in ("paper", "cpu", "gpu", "overfit"))
    assert model.config.coverage == (variant != "p1")
    mesh = sharding.data_mesh(jax.devices()[:1])
    tx = make_optimizer(config.optim)
    state = sharding.replicate(sharding.TrainState.create(model.init(jax.random.key(0)), tx), mesh)
    before = jax.device_get(state.params)
    step = sharding.make_train_step(trainer.make_loss_fn(model, config), tx, mesh)
    state, metrics = step(state, sharding.shard_batch(_tiny_batch(), mesh), jax.random.key(1))
    assert np.isfinite(metrics["loss"]) and (metrics["guider"] > 0) and int(state.step) == 1
    changed = [not np.allclose(a, b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(state.params))]
    assert any(changed)


def test_the_gpu_variant_is_the_paper_model_on_a_budget_clocked_schedule():
    gpu, paper = crohme14.get_config("gpu"), crohme14.get_config("paper")
    assert gpu.model.to_dict() == paper.model.to_dict()
    assert gpu.optim.schedule_clock == "budget" and gpu.train.time_budget_s > 0 and gpu.train.lr_cuts == 0


def test_unknown_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown variant 'p9'"):
        crohme14.get_config("p9")


def test_overfits_eight_real_expressions(overfit_run):
    workdir, results = overfit_run
    assert results["train"]["n"] == 8
    assert results["train"]["exprate"] == 1.0
    assert json.loads((workdir / "results.json").read_text())["train"]["exprate"] == 1.0
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert {"train", "valid"} <= {line["split"] for line in lines}
    assert list((workdir / "tensorboard").iterdir())


def _tiny_config(data_root, epochs=1):
    """A tiny model on 8 short real expressions, validated (greedily) on them after each epoch."""
    config = crohme14.get_config("overfit")
    config.data.root = str(data_root)
    config.data.update(train_limit=8, train_max_points=200)
    config.model.update(TINY_SIZES)
    config.train.update(epochs=epochs, eval_every_epochs=1)
    config.eval.update(max_len=5)
    return config


@pytest.fixture(scope="module")
def tiny_run(data_root, tmp_path_factory):
    """The workdir of a finished one-epoch run of :func:`_tiny_config` (checkpoints latest/1 and best/1)."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    trainer.train_and_evaluate(_tiny_config(data_root), str(workdir))
    return workdir


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _valid_lines(workdir: Path) -> list[dict]:
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [line for line in lines if line["split"] == "valid"]


def _valid_steps(workdir: Path) -> list[int]:
    return [line["step"] for line in _valid_lines(workdir)]


def _truncate_data(workdir: Path, kind: str) -> None:
    """Cuts every array data file of the ``kind`` checkpoint (orbax's ``d/`` folders) to 100 bytes."""
    files = [p for p in (workdir / "checkpoints" / kind).rglob("*") if p.is_file() and p.parent.name == "d"]
    assert files
    for path in files:
        path.write_bytes(path.read_bytes()[:100])


def test_resume_with_another_model_refuses_and_touches_nothing(data_root, tiny_run, tmp_path):
    run = _copy(tiny_run, tmp_path)
    before = _hashes(run)
    config = _tiny_config(data_root)
    config.model.tracker_hidden = 8
    config.optim.learning_rate = 1e-3
    with pytest.raises(InputError) as error:
        trainer.train_and_evaluate(config, str(run))
    assert "model.tracker_hidden (run: 4, now: 8), optim.learning_rate (run: 0.003, now: 0.001)" in str(error.value)
    assert "\n" not in str(error.value)
    assert _hashes(run) == before


def test_resume_with_other_decoding_settings_keeps_the_run(data_root, tiny_run, tmp_path):
    run = _copy(tiny_run, tmp_path)
    config = _tiny_config(data_root)
    config.eval.update(valid_beam=2, max_len=6)
    config.train.update(patience=3, log_every=1)
    results = trainer.train_and_evaluate(config, str(run))
    assert results["steps"] == 1 and _valid_steps(run) == [1]  # resumed finished: nothing trained again
    assert json.loads((run / "config.json").read_text())["eval"]["valid_beam"] == 2


def test_truncated_latest_falls_back_to_best_and_the_run_finishes(data_root, tiny_run, tmp_path, capsys):
    run = _copy(tiny_run, tmp_path)
    _truncate_data(run, "latest")
    results = trainer.train_and_evaluate(_tiny_config(data_root, epochs=2), str(run))
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "checkpoints/latest/1: unreadable" in warnings[0]
    assert warnings[0].endswith("using checkpoints/best (step 1) instead")
    assert results["epochs"] == 2 and results["steps"] == 2
    assert _valid_steps(run) == [1, 2]  # the second epoch continued from best's, not from scratch


def test_corrupt_latest_and_best_is_an_error(data_root, tiny_run, tmp_path):
    run = _copy(tiny_run, tmp_path)
    for kind in ("latest", "best"):
        _truncate_data(run, kind)
    with pytest.raises(InputError, match="no sound checkpoint: .*latest/1: unreadable.*; .*best/1: unreadable"):
        trainer.train_and_evaluate(_tiny_config(data_root, epochs=2), str(run))
    assert json.loads((run / "results.json").read_text())["epochs"] == 1  # not started over


@pytest.mark.parametrize("problem", ["unknown test split", "missing data root", "init_from not a run",
                                     "workdir is a file", "missing validation folder", "unknown validation split",
                                     "unknown weight noise", "cuts without a factor"])
def test_unusable_config_is_refused_before_anything_is_written(data_root, tmp_path, problem):
    config, workdir = _tiny_config(data_root), tmp_path / "run"
    if problem == "unknown test split":
        config.eval.test_sets, expected = ("test2014", "test2015"), "eval.test_sets: unknown split 'test2015'"
    elif problem == "missing data root":
        config.data.root, expected = str(tmp_path / "nodata"), "nodata/crohme not found"
    elif problem == "missing validation folder":  # a data root with the training folder only
        (tmp_path / "data" / "crohme" / "TrainINKML").mkdir(parents=True)
        config.data.update(root=str(tmp_path / "data"), valid="test2013")
        expected = "TestINKMLGT_2013: missing: the folder of the test2013 split"
    elif problem == "unknown validation split":
        config.data.valid, expected = "dev", "data.valid: 'dev': choose one of test2013, heldout, train"
    elif problem == "unknown weight noise":
        config.train.weight_noise, expected = "0.01", "train.weight_noise: '0.01': choose one of none, adaptive"
    elif problem == "cuts without a factor":
        config.train.lr_cuts, config.optim.lr_cut_factor = 1, 0.0
        expected = "optim.lr_cut_factor: step-size cuts"
    elif problem == "init_from not a run":
        config.train.init_from, expected = str(tmp_path), "train.init_from: neither a training run"
    else:
        workdir.write_text("not a run")
        expected = "run: not a directory"
    before = _hashes(tmp_path)
    with pytest.raises(InputError, match=expected):
        trainer.train_and_evaluate(config, str(workdir))
    assert _hashes(tmp_path) == before and (problem == "workdir is a file") == workdir.exists()


OVERFIT = ["--config", "experiments/configs/crohme14.py:overfit"]


@pytest.mark.parametrize("flags, expected", [
    (["--config.train.nosuchfield=1"],  # no --config: ml_collections applies it where the flag is defined
     "error: --config.train.nosuchfield: no such config field 'nosuchfield'"),
    (OVERFIT + ["--config.train.epoch=1"],  # applied when absl parses the flags
     "error: --config.train.epoch: no such config field 'epoch' (Did you mean \"epochs\" instead of \"epoch\"?)"),
    (OVERFIT + ["--config.eval.test_sets=test2015"], "error: eval.test_sets: unknown split 'test2015'"),
])
def test_command_line_errors_are_one_line_and_status_2(tmp_path, flags, expected):
    workdir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "experiments.crohme14", "--workdir", str(workdir), *flags],
                          cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(expected) and len(done.stderr.strip().splitlines()) == 1
    assert not workdir.exists()


def test_paper_trains_as_the_authors_and_cpu_keeps_its_measured_regime():
    """JianshuZhang/TAP v2 train_nmt.py / nmt.py: cost summed per expression, mean over the batch; Adadelta eps
    1e-8, clip 1000; patience 15, one cut (two in the weight-noise stage); validation on CROHME 2013 test."""
    paper, cpu, overfit = (crohme14.get_config(v) for v in ("paper", "cpu", "overfit"))
    assert (paper.train.loss_average, paper.optim.eps, paper.optim.clip_norm) == ("expressions", 1e-8, 1000.0)
    assert (paper.train.patience, paper.train.lr_cuts, paper.train.noise_lr_cuts) == (15, 1, 2)
    assert (paper.train.weight_noise, paper.train.noise_complexity) == ("none", 0.05)
    assert paper.data.valid == cpu.data.valid == "test2013" and overfit.data.valid == "train"
    assert (cpu.train.loss_average, cpu.optim.clip_norm, cpu.train.lr_cuts) == ("tokens", 100.0, 0)


def test_patience_cuts_the_step_size_then_ends_training():
    config = crohme14.get_config("paper")
    config.train.patience = 2
    state = sharding.TrainState.create({"w": np.zeros(2, np.float32)}, make_optimizer(config.optim))
    record = {"state": state, "bad_epochs": 2, "epoch": 9}
    assert trainer._cut_if_due(record, config) is record  # patience not yet exceeded
    once = trainer._cut_if_due(dict(record, bad_epochs=3), config)
    assert optim.cuts(once["state"].opt_state) == 1 and once["bad_epochs"] == 0
    spent = dict(once, bad_epochs=3)
    assert trainer._cut_if_due(spent, config) is spent  # no cut left: the trainer stops
    config.train.weight_noise = "adaptive"  # two cuts in the weight-noise stage
    assert optim.cuts(trainer._cut_if_due(spent, config)["state"].opt_state) == 2


def _scripted_wers(monkeypatch, wers):
    """Validation (and the final score on train) returns the WERs of ``wers`` in turn."""
    calls = iter(wers)
    monkeypatch.setattr(trainer.decoding, "score", lambda *args, **kwargs: {"wer": next(calls), "exprate": 0.0})


def _restored(config, workdir, kind="latest"):
    """The run's ``kind`` checkpoint, restored as the trainer does."""
    model = TAP.from_config(config.model)
    checkpoints = Checkpoints(workdir)
    try:
        like = trainer._initial_record(model, config, weight_noise.optimizer(config), sharding.data_mesh(),
                                       checkpoints)
        return checkpoints.restore(kind, like)
    finally:
        checkpoints.close()


def test_early_stopping_cuts_once_then_stops_and_resumes_with_another_cut(data_root, tmp_path, monkeypatch, capsys):
    config = _tiny_config(data_root, epochs=20)
    config.train.update(patience=0, lr_cuts=1)
    workdir = tmp_path / "run"
    # 0.5 the best; a tie is an improvement; worse: cut; worse: the end. Then the final score on train.
    _scripted_wers(monkeypatch, [0.5, 0.5, 0.6, 0.6, 0.9])
    results = trainer.train_and_evaluate(config, str(workdir))
    assert results["epochs"] == 4 and results["best_valid_wer"] == 0.5
    assert _restored(config, workdir, "best")["epoch"] == 2
    assert capsys.readouterr().out.count("step size cut by 10") == 1
    assert optim.cuts(_restored(config, workdir)["state"].opt_state) == 1

    config.train.lr_cuts = 2  # may change on resume: the finished run cuts once more and goes on
    _scripted_wers(monkeypatch, [0.6, 0.9])
    assert trainer.train_and_evaluate(config, str(workdir))["epochs"] == 5
    assert optim.cuts(_restored(config, workdir)["state"].opt_state) == 2


def test_adaptive_weight_noise_stage_starts_from_the_best_and_checkpoints_sigma(data_root, tiny_run, tmp_path):
    config = _tiny_config(data_root)
    config.train.update(init_from=str(tiny_run), weight_noise="adaptive")
    workdir = tmp_path / "noise"
    results = trainer.train_and_evaluate(config, str(workdir))
    assert _valid_steps(workdir) == [0, 1] and results["steps"] == 1  # the start validated, then one epoch
    run_best = json.loads((tiny_run / "results.json").read_text())["best_valid_wer"]
    assert _valid_lines(workdir)[0]["wer"] == run_best  # it starts from RUN's best weights
    source = _restored(_tiny_config(data_root), tiny_run, "best")["state"].params
    latest = _restored(config, workdir)["state"].params
    assert isinstance(latest, weight_noise.Posterior)
    start = weight_noise.Posterior.create(source)
    for a, b in zip(jax.tree.leaves(jax.device_get(latest.log_var)), jax.tree.leaves(start.log_var)):
        assert not np.allclose(a, b)  # sigma learnt
    changed = [not np.allclose(a, b) for a, b in zip(jax.tree.leaves(jax.device_get(latest.mean)),
                                                      jax.tree.leaves(source))]
    assert any(changed)


def test_a_run_starts_from_an_exported_model_of_its_model_config(data_root, tiny_run, tmp_path):
    shipped = tmp_path / "shipped"
    exported.export(runs.load_runs([tiny_run]), shipped, {"command": "test"})
    config = _tiny_config(data_root, epochs=0)  # the start validated and kept as the best, nothing trained
    config.train.init_from = str(shipped)
    trainer.train_and_evaluate(config, str(tmp_path / "on"))
    source = _restored(_tiny_config(data_root), tiny_run, "best")["state"].params
    start = _restored(config, tmp_path / "on", "best")["state"].params
    for a, b in zip(jax.tree.leaves(jax.device_get(start)), jax.tree.leaves(source)):
        np.testing.assert_array_equal(a, np.asarray(b).astype(np.float16).astype(np.float32))
    config.model.embed_dim += 1
    with pytest.raises(InputError,
                       match=r"an exported model of another model config, differing .* in embed_dim \(4 vs 5\)"):
        trainer.train_and_evaluate(config, str(tmp_path / "other"))


def test_validation_split_is_test2013_heldout_or_train(data_root):
    config = crohme14.get_config("paper")
    config.data.root = str(data_root)
    _, whole, test2013 = trainer.load_data(config)
    assert (test2013.name, len(test2013)) == ("test2013", 668)
    config.data.valid = "heldout"
    _, train, heldout = trainer.load_data(config)
    assert len(train) + len(heldout) == len(whole) and not set(train.keys) & set(heldout.keys)
    assert round(len(whole) * 0.05) == len(heldout)


@pytest.mark.parametrize("average_wer, best_step", [(0.3, 3), (0.7, 2)])
def test_the_mean_of_the_last_validated_weights_is_kept_when_it_validates_no_worse(
        data_root, tmp_path, monkeypatch, capsys, average_wer, best_step):
    config = _tiny_config(data_root, epochs=3)
    config.train.average_last = 2
    workdir = tmp_path / "run"
    _scripted_wers(monkeypatch, [0.5, 0.4, 0.6, average_wer, 0.9])  # 3 epochs, their mean, the final score
    trainer.train_and_evaluate(config, str(workdir))
    kept = averaging.series(workdir, config)
    like = _restored(config, workdir)["state"].params
    try:
        assert kept.steps() == [2, 3]  # one step per epoch; the last two validations kept
        last_two = [kept.restore({"params": like}, step)["params"] for step in (2, 3)]
    finally:
        kept.close()
    best = _restored(config, workdir, "best")
    assert int(best["state"].step) == best_step and best["best_wer"] == min(average_wer, 0.4)
    expected = jax.tree.map(lambda a, b: (a + b) / 2, *last_two) if average_wer < 0.4 else last_two[0]
    for a, b in zip(jax.tree.leaves(jax.device_get(best["state"].params)), jax.tree.leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert "mean of the last 2 validated weights" in capsys.readouterr().out


def test_checkpoint_averaging_is_refused_with_weight_noise(data_root, tmp_path):
    config = _tiny_config(data_root)
    config.train.update(average_last=2, weight_noise="adaptive")
    with pytest.raises(InputError, match="train.average_last"):
        trainer.validate(config, tmp_path)


def test_each_epoch_trains_on_its_own_augmented_split(data_root, tmp_path, monkeypatch):
    config = _tiny_config(data_root, epochs=2)
    config.augment.update(probability=1.0, rotation=10.0, shear=0.2)
    seen, split_batches = [], trainer.decoding.split_batches

    def spy(split, *args, **kwargs):
        if kwargs.get("shuffle"):  # the training epochs, not validation
            seen.append(split.features)
        return split_batches(split, *args, **kwargs)

    monkeypatch.setattr(trainer.decoding, "split_batches", spy)
    trainer.train_and_evaluate(config, str(tmp_path / "run"))
    _, train, _ = trainer.load_data(config)
    assert len(seen) == 3  # the step compiled for epoch 0's batch shapes, then epochs 0 and 1
    for epoch, features in zip((0, 0, 1), seen):
        for ours, expected in zip(features, augment.for_epoch(train, config, epoch).features):
            np.testing.assert_array_equal(ours, expected)
    assert not any(np.allclose(a, b) for a, b in zip(seen[1], train.features))
    assert not any(np.allclose(a, b) for a, b in zip(seen[1], seen[2]))


def test_an_augment_setting_out_of_range_is_refused(data_root, tmp_path):
    config = _tiny_config(data_root)
    config.augment.probability = 2.0
    with pytest.raises(InputError, match="augment.probability must be in"):
        trainer.validate(config, tmp_path)


def test_the_train_step_is_compiled_before_the_first_epoch(data_root, tmp_path, monkeypatch):
    """Every batch shape of training is compiled ahead (tapjax.common.precompile), with the arguments
    the steps get (a budget-clocked schedule's spent share included): no epoch compiles."""
    config = _tiny_config(data_root)
    config.train.time_budget_s = 3600.0
    config.optim.update(decay_epochs=1, schedule_clock="budget")
    compiled_in_epochs, in_epoch = [], [False]

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration" and in_epoch[0]:
            compiled_in_epochs.append(duration)

    def epoch(*args, **kwargs):
        in_epoch[0] = True
        try:
            return train_epoch(*args, **kwargs)
        finally:
            in_epoch[0] = False

    train_epoch = trainer.train_epoch
    monkeypatch.setattr(trainer, "train_epoch", epoch)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        trainer.train_and_evaluate(config, str(tmp_path / "run"))
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert json.loads((tmp_path / "run" / "results.json").read_text())["epochs"] == 1
    assert compiled_in_epochs == []

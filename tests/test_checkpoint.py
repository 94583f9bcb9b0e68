"""Orbax checkpoints: restoring the latest gives the identical next loss; best kept apart; corrupt
checkpoints (unreadable, or changed bytes caught by the digest) detected, passed over for the other
kind; checkpoints of the previous format (no digest) still restore."""

import functools
import math
from pathlib import Path

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from experiments.configs import crohme14
from tapjax.common import sharding
from tapjax.common.checkpoint import CheckpointMismatchError, Checkpoints, CorruptCheckpointError, Series
from tapjax.tap.nets.loss import tap_loss
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.model_config import TAPConfig
from tapjax.tap.nets.weight_noise import weight_noise

TINY = TAPConfig.from_config(crohme14.get_config("paper").model,  # the paper's, shrunk
                             vocab_size=11, tracker_hidden=4, embed_dim=4, parser_hidden=5, attention_dim=6,
                             coverage_kernel=3, coverage_filters=2, maxout_dim=4)


def _batch(seed):
    rng = np.random.default_rng(seed)
    mask = np.ones((2, 8), np.float32)
    mask[1, 5:] = 0
    tokens = rng.integers(1, 11, size=(2, 3)).astype(np.int32)
    return {"features": rng.normal(size=(2, 8, 8)).astype(np.float32), "feature_mask": mask,
            "tokens": tokens, "token_mask": np.ones((2, 3), np.float32),
            "align": (rng.random((2, 3, 8)) < 0.3).astype(np.uint8), "index": np.arange(2, dtype=np.int32)}


@functools.cache
def _compiled():
    model, tx = TAP(TINY), optax.adadelta(1.0, rho=0.95, eps=1e-6)
    mesh = sharding.data_mesh(jax.devices()[:1])
    # weight noise makes the step depend on the rng too, so a wrong rng restore shows up
    step = sharding.make_train_step(lambda p, b, r: tap_loss(model, weight_noise(p, r, 0.01), b), tx, mesh)
    return model, tx, mesh, step


def _setup():
    model, tx, mesh, step = _compiled()
    state = sharding.replicate(sharding.TrainState.create(model.init(jax.random.key(0)), tx), mesh)
    record = {"state": state, "epoch": 0, "step_in_epoch": 0, "rng": jax.random.key(7), "best_wer": math.inf,
              "bad_epochs": 0, "train_seconds": 0.0}
    return mesh, step, record


def _advance(record, step, mesh, seed):
    rng = jax.random.fold_in(record["rng"], record["state"].step)
    state, metrics = step(record["state"], sharding.shard_batch(_batch(seed), mesh), rng)
    return dict(record, state=state, step_in_epoch=record["step_in_epoch"] + 1), float(metrics["loss"])


def test_restore_gives_identical_next_loss(tmp_path):
    mesh, step, record = _setup()
    for seed in range(2):
        record, _ = _advance(record, step, mesh, seed)
    ckpt = Checkpoints(tmp_path)
    ckpt.save("latest", 2, dict(record, epoch=3, best_wer=0.5))
    expected_record, expected = _advance(record, step, mesh, 2)
    _, fresh_step, fresh = _setup()  # a new process would start from fresh parameters
    restored = Checkpoints(tmp_path).restore("latest", fresh)
    assert int(restored["epoch"]) == 3 and int(restored["step_in_epoch"]) == 2
    assert float(restored["best_wer"]) == 0.5 and int(restored["state"].step) == 2
    _, loss = _advance(restored, fresh_step, mesh, 2)
    assert loss == expected
    assert Checkpoints(tmp_path).restore("best", fresh) is None


def test_latest_and_best_are_separate(tmp_path):
    mesh, step, record = _setup()
    ckpt = Checkpoints(tmp_path)
    ckpt.save("best", 0, record)
    record, _ = _advance(record, step, mesh, 0)
    ckpt.save("latest", 1, record)
    assert ckpt.latest_step("best") == 0 and ckpt.latest_step("latest") == 1
    best = ckpt.restore("best", record)
    init = jax.tree.leaves(_setup()[2]["state"].params)
    for a, b in zip(jax.tree.leaves(best["state"].params), init):
        np.testing.assert_array_equal(a, b)


def _tree(seed=0):
    """Random (incompressible) arrays, so changed bytes in the stored data change the values."""
    rng = np.random.default_rng(seed)
    return {"w": jax.numpy.asarray(rng.normal(size=(128, 256)).astype(np.float32)), "b": jax.numpy.ones(3),
            "epoch": 2, "rng": jax.random.key(seed)}


def _largest_file(folder: Path) -> Path:
    return max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def _flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    data[i: i + 16] = bytes(b ^ 0xFF for b in data[i: i + 16])
    path.write_bytes(bytes(data))


def _assert_same(a, b):
    def data(t):
        return dict(t, rng=jax.random.key_data(t["rng"])) if "rng" in t and t["rng"].dtype != np.uint32 else t
    for x, y in zip(jax.tree.leaves(data(a)), jax.tree.leaves(data(b)), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_changed_bytes_in_array_data_are_caught_by_the_digest(tmp_path):
    tree = dict(_tree(), rng=jax.random.key_data(jax.random.key(0)))
    Series(tmp_path).save(3, tree)
    _flip(_largest_file(tmp_path / "3"))  # the weights' data: orbax itself reads it without complaint
    with pytest.raises(CorruptCheckpointError, match=r"/3: 1 of 4 arrays do not match .*digest.*: w$"):
        Series(tmp_path).restore(tree)


def test_truncated_data_is_corrupt_and_another_tree_a_mismatch(tmp_path):
    tree = dict(_tree(), rng=jax.random.key_data(jax.random.key(0)))
    Series(tmp_path / "a").save(0, tree)
    with pytest.raises(CheckpointMismatchError, match=r"w \(\(128, 256\) stored, \(128, 255\) expected\)"):
        Series(tmp_path / "a").restore(dict(tree, w=tree["w"][:, :255]))
    path = _largest_file(tmp_path / "a" / "0")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptCheckpointError, match=r"/0: unreadable \(.*OUT_OF_RANGE"):
        Series(tmp_path / "a").restore(tree)


def test_checkpoint_of_the_previous_format_restores(tmp_path):
    """Saved as the previous version did (one orbax item, no digest), as the runs users have."""
    tree = dict(_tree(), rng=jax.random.key_data(jax.random.key(0)))
    options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False)
    with ocp.CheckpointManager(tmp_path.absolute(), options=options) as manager:
        manager.save(5, args=ocp.args.StandardSave(tree))
        manager.wait_until_finished()
    assert not (tmp_path / "5" / "digest").exists()
    _assert_same(Series(tmp_path).restore(tree), tree)


def test_corrupt_kind_is_passed_over_with_a_warning_and_none_left_is_an_error(tmp_path, capsys):
    best, latest = _tree(1), _tree(2)
    ckpt = Checkpoints(tmp_path)
    ckpt.save("best", 1, best)
    ckpt.save("latest", 2, latest)
    _assert_same(ckpt.restore_first(("latest", "best"), latest), latest)
    _flip(_largest_file(tmp_path / "checkpoints" / "latest" / "2"))
    _assert_same(Checkpoints(tmp_path).restore_first(("latest", "best"), latest), best)
    warning = capsys.readouterr().err.strip()
    assert warning.startswith("warning: ") and "checkpoints/latest/2: 1 of 4 arrays" in warning
    assert warning.endswith("using checkpoints/best (step 1) instead") and "\n" not in warning
    path = _largest_file(tmp_path / "checkpoints" / "best" / "1")
    path.write_bytes(b"")
    with pytest.raises(CorruptCheckpointError, match="no sound checkpoint: .*latest/2: .*; .*best/1: unreadable"):
        Checkpoints(tmp_path).restore_first(("latest", "best"), latest)
    assert capsys.readouterr().err == ""  # the failed reads' aftermath is silent


def test_corrupt_latest_without_best_is_an_error(tmp_path):
    Checkpoints(tmp_path).save("latest", 2, _tree())
    _flip(_largest_file(tmp_path / "checkpoints" / "latest" / "2"))
    with pytest.raises(CorruptCheckpointError, match="no sound checkpoint"):
        Checkpoints(tmp_path).restore_first(("latest", "best"), _tree())
    assert Checkpoints(tmp_path / "empty").restore_first(("latest", "best"), _tree()) is None

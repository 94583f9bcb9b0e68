"""The model shipped with tapjax (``tapjax/tap/read/weights``): export, load, and the commands
without ``--checkpoint``."""

import json

import jax
import numpy as np
import pytest

import tapjax
from tapjax import evaluate as evaluate_command
from tapjax import recognize as recognize_command
from tapjax.common.errors import InputError
from tapjax.common.family import Mixture
from tapjax.tap.ink import crohme
from tapjax.tap.ink.crohme import FOLDERS
from tapjax.tap.read import evaluation, exported, recognition, runs


@pytest.fixture(scope="module")
def model_dir(overfit_run, tmp_path_factory):
    """The overfit run written as a shipped model in a folder of its own."""
    workdir, _ = overfit_run
    out = tmp_path_factory.mktemp("shipped")
    exported.export(runs.load_runs([workdir]), out, {"command": "test"})
    return out


def test_export_then_load_gives_the_runs_weights_in_float16(overfit_run, model_dir):
    workdir, _ = overfit_run
    run, shipped = runs.load_runs([str(workdir)]), runs.load_exported(model_dir)
    for ours, theirs in zip(jax.tree.leaves(run.params), jax.tree.leaves(shipped.params)):
        assert theirs.dtype == np.float32
        np.testing.assert_array_equal(np.asarray(theirs), np.asarray(ours).astype(np.float16).astype(np.float32))
    assert jax.tree.structure(run.params) == jax.tree.structure(shipped.params)
    assert shipped.vocab.symbols == run.vocab.symbols and shipped.stride == run.stride
    assert shipped.config.model == run.config.model and shipped.config.data.root == ""


def test_the_exported_model_reads_what_the_run_reads(overfit_run, model_dir, overfit_expression):
    workdir, _ = overfit_run
    path, caption = overfit_expression
    [ours] = recognition.recognize_files([path], workdir, beam=1)
    [theirs] = recognition.recognize(runs.load_exported(model_dir), [path], beam=1)
    assert ours.latex == theirs.latex == caption


def test_a_parameter_file_that_does_not_fit_the_model_is_a_clear_error(model_dir, tmp_path):
    (tmp_path / exported.META).write_text((model_dir / exported.META).read_text())
    with np.load(model_dir / exported.PARAMS) as saved:
        arrays = dict(saved)
    dropped = sorted(arrays)[0]
    np.savez(tmp_path / exported.PARAMS, **{k: v for k, v in arrays.items() if k != dropped})
    with pytest.raises(InputError, match=f"{exported.PARAMS}.*do not match.*{dropped}"):
        runs.load_exported(tmp_path)
    with pytest.raises(InputError, match="no exported model there"):
        runs.load_exported(tmp_path / "elsewhere")


def test_an_exported_model_serves_as_a_checkpoint_and_mixture_member_but_not_in_a_plain_ensemble(
        overfit_run, model_dir, capsys):
    workdir, _ = overfit_run
    assert evaluate_command.main(["--checkpoint", str(model_dir), "--split", "test2014", "--limit", "2",
                                  "--beam", "1", "--json", "--predictions", str(model_dir / "p.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2
    mixture = runs.with_weights(runs.load_mixture([str(workdir), str(model_dir)], None), (0.25, 0.75))
    assert isinstance(mixture.family, Mixture)
    assert mixture.vocab.symbols == runs.load_exported(model_dir).vocab.symbols
    assert evaluate_command.main(["--checkpoint", str(workdir), "--checkpoint", str(model_dir),
                                  "--weights", "0.25,0.75", "--split", "test2014", "--limit", "2", "--beam", "1",
                                  "--json", "--predictions", str(model_dir / "p.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2
    assert evaluate_command.main(["--checkpoint", str(workdir), "--checkpoint", str(model_dir), "--split", "test2014",
                                  "--limit", "2"]) == 2
    assert "only as a member of a mixture" in capsys.readouterr().err


@pytest.fixture(scope="module")
def card():
    return exported.read_meta(exported.shipped())["card"]


def test_the_shipped_model_reads_its_fixed_50_as_its_card_says(data_root, card):
    shipped = tapjax.load_pretrained()
    assert len(shipped.vocab) == shipped.config.model.vocab_size == 111
    fixed = card["scores"]["fixed50"]
    split = crohme.load_split("test2014", str(data_root))
    index = {key: i for i, key in enumerate(split.keys)}
    subset = split.take([index[key] for key in fixed["keys"]])
    summary, _ = evaluation.evaluate(shipped, subset, fixed["beam"])
    assert summary["n"] == len(fixed["keys"]) == evaluation.FIXED
    assert summary["exprate"] >= fixed["exprate"] - 0.02


def test_the_commands_without_a_checkpoint_use_the_shipped_model(data_root, card, capsys):
    first = sorted((data_root / "crohme" / FOLDERS["test2014"]).rglob("*.inkml"))[0]
    assert recognize_command.main([str(first), "--beam", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{first}\t") and out.strip().split("\t")[1]
    assert evaluate_command.main(["--split", "test2014", "--limit", "4", "--beam", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 4 and summary["beam"] == 1

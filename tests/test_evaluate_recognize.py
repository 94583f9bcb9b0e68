"""End to end: ``tapjax evaluate`` and ``tapjax recognize`` on the shared overfit run.

The command lines run in-process through their ``main(argv)``.
"""

import json
import math
import shutil
import struct

import numpy as np
import pytest

from tapjax.cli import evaluate, recognize
from tapjax.common import run_config
from tapjax.common.errors import InputError
from tapjax.tap.fit import trainer
from tapjax.tap.ink import crohme
from tapjax.tap.read import evaluation, recognition, runs
from tapjax.tap.read.attention_plot import plot_attention

SUMMARY_KEYS = {"split", "n", "wer", "exprate", "le1", "le2", "le3", "beam", "devices", "seconds", "per_stroke_count"}
EMPTY_INK = """<ink xmlns="http://www.w3.org/2003/InkML">
  <annotation type="truth">$x$</annotation>
</ink>
"""


def _predictions(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_evaluate_scores_a_split_and_an_ensemble_of_two_copies_scores_the_same(overfit_run, tmp_path, capsys):
    workdir, _ = overfit_run
    single = tmp_path / "single.jsonl"
    args = ["--split", "test2014", "--limit", "8", "--beam", "3"]
    assert evaluate.main(["--checkpoint", str(workdir), *args, "--json", "--predictions", str(single)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert SUMMARY_KEYS <= summary.keys() and summary["split"] == "test2014" and summary["n"] == 8
    assert summary["beam"] == 3 and summary["devices"] == 8
    assert sum(bucket["n"] for bucket in summary["per_stroke_count"].values()) == 8
    predictions = _predictions(single)
    assert len(predictions) == 8 and set(predictions[0]) == {"key", "reference", "hypothesis", "errors"}
    assert np.mean([p["errors"] == 0 for p in predictions]) == summary["exprate"]

    assert evaluate.main(["--checkpoint", str(workdir), "--checkpoint", str(workdir), *args]) == 0  # Eq. 32
    table = capsys.readouterr().out
    assert "exprate" in table and "ExpRate by stroke count" in table
    ensemble = _predictions(workdir / "predictions_test2014.jsonl")  # the default place
    assert [p["hypothesis"] for p in ensemble] == [p["hypothesis"] for p in predictions]


def test_evaluate_falls_back_to_the_runs_own_decoding_settings(overfit_run, tmp_path, capsys):
    workdir, _ = overfit_run
    config = runs.load_config(workdir)
    out = tmp_path / "p.jsonl"
    assert evaluate.main(["--checkpoint", str(workdir), "--split", "test2014", "--limit", "2", "--json",
                          "--predictions", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["beam"] == config.eval.test_beam
    assert evaluate.main(["--checkpoint", str(workdir), "--split", "test2014", "--limit", "2", "--json",
                          "--predictions", str(out), "--max_len", "1"]) == 0
    assert all(len(p["hypothesis"].split()) <= 1 for p in _predictions(out))  # --max_len overrides eval.max_len


def test_length_norm_flag_overrides_the_runs_ranking(overfit_run, tmp_path, capsys):
    workdir = overfit_run[0]
    assert runs.load_config(workdir).eval.length_norm is True  # the variant's default
    for flag, expected in (("--length_norm", True), ("--no-length_norm", False), (None, None)):
        argv = ["--checkpoint", str(workdir), "--split", "test2014", *filter(None, [flag])]
        assert evaluate.parser().parse_args(argv).length_norm is expected
    out = tmp_path / "p.jsonl"
    assert evaluate.main(["--checkpoint", str(workdir), "--split", "test2014", "--limit", "2", "--no-length_norm",
                          "--json", "--predictions", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2


def test_recognize_prints_the_caption_of_a_learnt_expression_and_draws_its_attention(
        overfit_run, overfit_expression, tmp_path, capsys):
    workdir, _ = overfit_run
    path, caption = overfit_expression
    png = tmp_path / "attention.png"
    assert recognize.main([str(path), "--checkpoint", str(workdir), "--beam", "1", "--attention", str(png)]) == 0
    assert capsys.readouterr().out == f"{path}\t{caption}\n"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    symbols = len(caption.split())
    assert (width, height) == (180 * min(6, symbols), 180 * math.ceil(symbols / 6))  # 1.8-inch panels, 100 dpi


def test_recognize_files_returns_the_attention_of_each_symbol(overfit_run, overfit_expression):
    workdir, _ = overfit_run
    path, caption = overfit_expression
    [result] = recognition.recognize_files([path], workdir, beam=1)
    assert result.latex == caption
    steps, points = result.alpha.shape
    assert steps == len(result.tokens) and points == len(result.points) == len(result.point_strokes)
    # one point per annotation step (every 4th) covers each step once: alpha_t sums to 1 (Eq. 19)
    np.testing.assert_allclose(result.alpha[:, ::4].sum(axis=1), 1.0, rtol=1e-4)
    assert result.beta.shape == (steps,) and ((result.beta >= 0) & (result.beta <= 1)).all()
    assert sum(bool(ax.get_title()) for ax in plot_attention(result).axes) == steps


def _without_truth(path, tmp_path):
    """A copy of the InkML file ``path`` with its truth annotation (and truth MathML) removed."""
    text = path.read_text()
    start = text.index('<annotation type="truth">')
    text = text[:start] + text[text.index("</annotation>", start) + len("</annotation>"):]
    if '<annotationXML type="truth"' in text:
        start = text.index('<annotationXML type="truth"')
        text = text[:start] + text[text.index("</annotationXML>", start) + len("</annotationXML>"):]
    copy = tmp_path / f"untruthed_{path.name}"
    copy.write_text(text)
    return copy


def test_recognize_reads_ink_without_a_truth_and_reports_each_bad_file(overfit_run, overfit_expression, tmp_path,
                                                                       capsys):
    workdir, _ = overfit_run
    path, caption = overfit_expression
    untruthed = _without_truth(path, tmp_path)
    assert 'type="truth"' not in untruthed.read_text().split("<trace", 1)[0]  # no truth, no truth MathML
    assert recognize.main([str(untruthed), "--checkpoint", str(workdir), "--beam", "1"]) == 0
    assert capsys.readouterr().out == f"{untruthed}\t{caption}\n"

    bad = tmp_path / "bad.inkml"
    bad.write_text("just some notes\n")
    assert recognize.main([str(bad), str(untruthed), "--checkpoint", str(workdir), "--beam", "1"]) == 2
    out, err = capsys.readouterr()
    assert out == f"{untruthed}\t{caption}\n"  # the good file is still recognised
    assert err.startswith(f"error: {bad}: ") and err.count("\n") == 1 and "Traceback" not in err


def test_evaluate_scores_a_reference_outside_the_vocabulary_as_an_error(overfit_run, data_root):
    loaded = runs.load_runs([overfit_run[0]])
    split = crohme.load_split("test2014", data_root).take(range(3))
    split.tokens[1] = split.tokens[1] + ["\\aleph"]
    summary, predictions = evaluation.evaluate(loaded, split, beam=1)
    assert summary["n"] == 3 and summary["oov_references"] == {"expressions": 1, "symbols": {"\\aleph": 1}}
    assert predictions[1]["errors"] >= 1 and predictions[1]["reference"].endswith("\\aleph")
    assert "outside the vocabulary" in evaluate.format_table(summary)


@pytest.mark.parametrize("content, problem", [
    ("just some notes\n", "not InkML"),
    ("", "empty file"),
    (EMPTY_INK, "no traces"),
], ids=["not_inkml", "empty_file", "empty_ink"])
def test_recognize_rejects_a_bad_file_with_a_clear_error(overfit_run, tmp_path, capsys, content, problem):
    path = tmp_path / "bad.inkml"
    path.write_text(content)
    assert recognize.main([str(path), "--checkpoint", str(overfit_run[0])]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and problem in err and "Traceback" not in err


def _edited_copy(workdir, tmp_path, block="model", name="edited", **fields):
    copy = tmp_path / name
    shutil.copytree(workdir, copy)
    config = json.loads((copy / "config.json").read_text())
    config[block].update(fields)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize("edit, ensemble, problem", [
    (None, False, "no such run directory"),
    ({"vocab_size": 112}, False, "model.vocab_size is 112 but the vocabulary has 111 symbols"),
    ({"tracker_hidden": 48}, False, "the checkpoint does not match config.json"),
    ({"tracker_hidden": 48}, True, "cannot ensemble with"),
    ({"temporal_attention": None}, False, "a model this version of tapjax cannot build"),
], ids=["missing", "vocab", "shapes", "ensemble", "older_version"])
def test_evaluate_rejects_an_unusable_checkpoint_with_a_clear_error(overfit_run, tmp_path, capsys, edit, ensemble,
                                                                    problem):
    workdir = overfit_run[0]
    bad = _edited_copy(workdir, tmp_path, **edit) if edit else tmp_path / "no_such_run"
    checkpoints = [workdir, bad] if ensemble else [bad]
    argv = [a for c in checkpoints for a in ("--checkpoint", str(c))] + ["--split", "test2014"]
    assert evaluate.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}") and problem in err and "Traceback" not in err


def test_a_run_of_another_config_version_is_refused_in_one_line(overfit_run, data_root, tmp_path, capsys):
    """A run saved with configs of another version (here none, as before versions) is refused with
    the same line by evaluate, recognize and a resume (:func:`tapjax.common.run_config.check_version`)."""
    workdir = overfit_run[0]
    bad = tmp_path / "unversioned"
    shutil.copytree(workdir, bad)
    stored = json.loads((bad / "config.json").read_text())
    del stored["version"]
    (bad / "config.json").write_text(json.dumps(stored))
    problem = (f"{bad / 'config.json'}: a run of config version absent, but this tapjax reads config version "
               f"{run_config.VERSION}; ")
    ink = next((data_root / "crohme" / "TestEM2014GT").glob("*.inkml"))
    assert evaluate.main(["--checkpoint", str(bad), "--split", "test2014"]) == 2
    assert capsys.readouterr().err == f"error: {problem}retrain the run\n"
    assert recognize.main([str(ink), "--checkpoint", str(bad)]) == 2
    assert capsys.readouterr().err == f"error: {problem}retrain the run\n"
    with pytest.raises(InputError) as error:
        trainer.train_and_evaluate(runs.load_config(workdir), str(bad))
    assert str(error.value).startswith(problem)

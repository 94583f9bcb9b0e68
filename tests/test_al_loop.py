"""The AL loop on real CoNLL-2003 (smoke config): outputs, resume after an interruption, the
rounds' orbax checkpoints and logged scalars; the workdir's config (another one refused), a corrupt
round trained again, an unusable config refused before anything is written."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments.configs import al_conll
from tapjax.al import learner, loop, strategies
from tapjax.common.errors import InputError


def _config(data_root, rounds):
    c = al_conll.get_config("smoke")
    c.data.root = str(data_root)
    c.al.strategies = ("random", "wbadge")
    c.al.rounds = rounds
    return c


def _state(workdir):
    return {p.relative_to(workdir).as_posix(): p.read_bytes() for p in sorted((workdir / "state").rglob("*"))
            if p.is_file()}


def test_resume_after_interruption_keeps_selections_and_redoes_nothing(data_root, tmp_path, monkeypatch):
    calls = {"fit": 0, "choose": 0}
    real_fit, real_choose = loop.Experiment.fit, strategies.choose

    def counting_fit(self, *a, **k):
        calls["fit"] += 1
        return real_fit(self, *a, **k)

    def failing_choose(name, *a, **k):
        calls["choose"] += 1
        if calls["choose"] == 3:  # random r1, random r2, then wbadge r1 is interrupted
            raise KeyboardInterrupt("simulated kill")
        return real_choose(name, *a, **k)

    monkeypatch.setattr(loop.Experiment, "fit", counting_fit)
    monkeypatch.setattr(strategies, "choose", failing_choose)
    with pytest.raises(KeyboardInterrupt):
        loop.run(_config(data_root, 2), tmp_path)
    before = _state(tmp_path)
    assert calls["fit"] == 3  # the shared start and random rounds 1, 2
    assert "state/seed0/random/round2.json" in before and not any("wbadge" in p for p in before)

    calls.update(fit=0, choose=0)
    summary = loop.run(_config(data_root, 2), tmp_path)
    assert calls["fit"] == 2 and calls["choose"] == 2  # only wbadge rounds 1 and 2
    after = _state(tmp_path)
    assert all(after[p] == data for p, data in before.items())  # nothing finished was redone or changed

    lines = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(l["strategy"], l["round"]) for l in lines] == [(s, r) for s in ("random", "wbadge") for r in range(3)]
    start = json.loads(after["state/seed0/round0.json"])
    lengths = np.array([len(w) for w in loop.load_splits(_config(data_root, 2).data)["train"].words])
    budget = round(0.05 * lengths.sum())  # smoke: 5 % of the training words a round (al.budget "words")
    assert lengths[start["labeled"]].sum() >= budget
    for s in ("random", "wbadge"):
        labeled = [json.loads(after[f"state/seed0/{s}/round{r}.json"])["labeled"] for r in (1, 2)]
        assert labeled[0][: len(start["labeled"])] == start["labeled"] and labeled[1][: len(labeled[0])] == labeled[0]
        assert len(set(labeled[1])) == len(labeled[1])
        for new in (labeled[0][len(start["labeled"]):], labeled[1][len(labeled[0]):]):  # in pick order
            assert lengths[new].sum() >= budget > lengths[new[:-1]].sum()  # only the last sentence overshoots
    rounds = summary["strategies"]["wbadge"]["rounds"]
    assert np.all(np.diff([r["words_pct"] for r in rounds]) > 0) and 0 <= rounds[-1]["test_f1_mean"] <= 1
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "summary.json").read_text())["strategies"].keys() == {"random", "wbadge"}

    metrics = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(m["split"], m["step"]) for m in metrics] == [
        ("start/seed0", 0), ("random/seed0", 1), ("random/seed0", 2), ("wbadge/seed0", 1), ("wbadge/seed0", 2)]
    assert metrics[-1]["sentences"] == len(labeled[1]) and metrics[-1]["words"] == lengths[labeled[1]].sum()
    assert list((tmp_path / "tensorboard").iterdir())
    _check_checkpoints(_config(data_root, 2), tmp_path, after)


def _check_checkpoints(config, workdir, state):
    """Each round's parameters are an orbax checkpoint numbered by round, restored exactly:
    they give the validation F1 recorded when the round was trained."""
    exp = loop.Experiment(config, workdir)
    try:
        assert exp.rounds(0).params.steps() == [0] and exp.rounds(0, "wbadge").params.steps() == [1, 2]
        record, f1 = _restored_val_f1(exp, exp.rounds(0, "wbadge"), 2)
        assert record == json.loads(state["state/seed0/wbadge/round2.json"])
        assert f1 == record["val_f1"]
    finally:
        exp.close()


def _restored_val_f1(exp, store, r):
    """``(record, validation F1 of the restored model)`` of round ``r`` of ``store``."""
    record, model, params, _ = exp.restore(store, r)
    vocabs = exp.vocabs
    return record, learner.evaluate(learner.compiled_predict(model, exp.mesh), params,
                                    vocabs.encode(exp.splits["validation"]), vocabs.tags, exp.config.train, exp.mesh)


@pytest.fixture(scope="module")
def start_run(data_root, tmp_path_factory):
    """A smoke workdir holding only its start round (``al.rounds`` = 0): one model trained."""
    workdir = tmp_path_factory.mktemp("al_start")
    loop.run(_config(data_root, 0), workdir)
    return workdir


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_workdir_remembers_its_config_and_refuses_another(data_root, start_run, tmp_path):
    run = Path(shutil.copytree(start_run, tmp_path / "run"))
    before = _hashes(run)
    config = _config(data_root, 0)
    config.model_cfg.hidden = 16
    config.train.epochs = 2
    with pytest.raises(InputError, match=r"model_cfg.hidden \(run: 8, now: 16\), train.epochs \(run: 1, now: 2\)"):
        loop.run(config, run)
    assert _hashes(run) == before
    assert json.loads((run / "config.json").read_text())["model_cfg"]["hidden"] == 8


def test_corrupt_round_is_trained_again(data_root, start_run, tmp_path, capsys):
    run = Path(shutil.copytree(start_run, tmp_path / "run"))
    data = [p for p in (run / "state/seed0/params/0").rglob("*") if p.is_file() and p.parent.name == "d"]
    for path in data:
        path.write_bytes(path.read_bytes()[:100])
    config = _config(data_root, 1)
    config.al.strategies = ("random",)  # may change on resume, as al.rounds
    loop.run(config, run)  # round 1 selects with round 0's model
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "state/seed0/params/0: unreadable" in warnings[0]
    assert "training round 0 again on its" in warnings[0]
    assert (run / "state/seed0/random/round1.json").exists()
    exp = loop.Experiment(config, run)
    try:
        record, f1 = _restored_val_f1(exp, exp.rounds(0), 0)  # trained again as before, and saved
        assert f1 == record["val_f1"]
    finally:
        exp.close()
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("problem", ["unknown strategy", "unknown dataset", "missing data", "workdir is a file"])
def test_unusable_config_is_refused_before_anything_is_written(data_root, tmp_path, problem):
    config, workdir = _config(data_root, 1), tmp_path / "run"
    if problem == "unknown strategy":
        config.al.strategies, expected = ("random", "nosuch"), "al.strategies: unknown strategy 'nosuch'"
    elif problem == "unknown dataset":
        config.data.name, expected = "conll", "data: unknown dataset 'conll'"
    elif problem == "missing data":
        config.data.root, expected = str(tmp_path / "nodata"), "nodata/conll2003 not found"
    else:
        workdir.write_text("not a run")
        expected = "run: not a directory"
    before = _hashes(tmp_path)
    with pytest.raises(InputError, match=expected):
        loop.run(config, workdir)
    assert _hashes(tmp_path) == before and (problem == "workdir is a file") == workdir.exists()


def test_command_line_error_is_one_line_and_status_2(tmp_path):
    workdir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "experiments.al_conll", "--config",
                           "experiments/configs/al_conll.py:smoke", "--workdir", str(workdir),
                           "--config.al.strategies=wbadge_typo"],
                          cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and not workdir.exists()
    assert done.stderr.strip().splitlines() == [
        "error: al.strategies: unknown strategy 'wbadge_typo'; known: " + ", ".join(strategies.STRATEGIES)]

"""The AL loop on real CoNLL-2003 (smoke config): outputs, resume after an interruption, the
rounds' orbax checkpoints and logged scalars."""

import json

import numpy as np
import pytest

from experiments.configs import al_conll
from tapjax.al import learner, loop, strategies


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
    for s in ("random", "wbadge"):
        labeled = [json.loads(after[f"state/seed0/{s}/round{r}.json"])["labeled"] for r in (1, 2)]
        assert labeled[0][: len(start["labeled"])] == start["labeled"] and labeled[1][: len(labeled[0])] == labeled[0]
        assert len(set(labeled[1])) == len(labeled[1]) == 3 * len(start["labeled"])
    rounds = summary["strategies"]["wbadge"]["rounds"]
    assert np.all(np.diff([r["words_pct"] for r in rounds]) > 0) and 0 <= rounds[-1]["test_f1_mean"] <= 1
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "summary.json").read_text())["strategies"].keys() == {"random", "wbadge"}

    metrics = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(m["split"], m["step"]) for m in metrics] == [
        ("start/seed0", 0), ("random/seed0", 1), ("random/seed0", 2), ("wbadge/seed0", 1), ("wbadge/seed0", 2)]
    assert metrics[-1]["sentences"] == 3 * len(start["labeled"]) and metrics[-1]["words"] > 0
    assert list((tmp_path / "tensorboard").iterdir())
    _check_checkpoints(_config(data_root, 2), tmp_path, after)


def _check_checkpoints(config, workdir, state):
    """Each round's parameters are an orbax checkpoint numbered by round, restored exactly:
    they give the validation F1 recorded when the round was trained."""
    exp = loop.Experiment(config, workdir)
    try:
        assert exp.rounds(0).params.steps() == [0] and exp.rounds(0, "wbadge").params.steps() == [1, 2]
        record, model, params, _ = exp.restore(exp.rounds(0, "wbadge"), 2)
        assert record == json.loads(state["state/seed0/wbadge/round2.json"])
        vocabs = exp.vocabs(record["labeled"])
        f1 = learner.evaluate(learner.compiled_predict(model, exp.mesh), params,
                              vocabs.encode(exp.splits["validation"]), vocabs.tags, config.train, exp.mesh)
        assert f1 == record["val_f1"]
    finally:
        exp.close()

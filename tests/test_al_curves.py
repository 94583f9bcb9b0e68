"""AL curves compared on % words (W-BADGE paper Figs. 2-3): the common grid, the area over the
shared span, paired differences to W-BADGE; summary.json and curves.png from synthetic results."""

import json

import numpy as np
import pytest

from experiments.configs import al_conll
from tapjax.al import curves, loop


def _run(x, y):
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def test_runs_are_interpolated_on_the_grid_only_inside_their_span():
    run = _run([2, 4, 7], [0.5, 0.7, 0.4])
    got = curves.on_grid(run, [1, 2, 3, 4, 5.5, 7, 8])
    np.testing.assert_allclose(got, [np.nan, 0.5, 0.6, 0.7, 0.55, 0.4, np.nan])


def test_common_grid_is_the_multiples_of_the_step_inside_some_run():
    runs = [_run([2.3, 4, 6.8], [0, 0, 0]), _run([1.5, 4.2], [0, 0])]
    assert curves.common_grid(runs, 1.0).tolist() == [2, 3, 4, 5, 6]
    assert curves.common_grid(runs, 0.5).tolist() == [1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5]
    assert curves.common_grid(runs, 0.1)[:2].tolist() == [1.5, 1.6]  # rounded, not 1.6000000000000001


def test_area_over_the_shared_span_divided_by_its_width():
    runs = [_run([2, 4, 6], [0.5, 0.9, 0.5]), _run([3, 5, 7], [0.6, 0.6, 0.6])]
    assert curves.shared_span(runs) == (3.0, 6.0)
    # on [3, 6]: 0.7 at 3, 0.9 at 4, 0.5 at 6 -> (0.8 × 1 + 0.7 × 2) / 3
    assert curves.span_auc(runs[0], (3.0, 6.0)) == pytest.approx(2.2 / 3)
    assert curves.span_auc(runs[1], (3.0, 6.0)) == pytest.approx(0.6)
    assert curves.shared_span([_run([2, 4], [0, 0]), _run([4, 6], [0, 0])]) is None  # touching: no interval


def _constructed():
    """Three seeds; random = W-BADGE − d per seed on W-BADGE's own % words, but random's seed-2
    run stops at 5 %; MNLP with one seed."""
    x = {0: [2.0, 4.0, 6.0], 1: [2.5, 4.5, 6.5], 2: [2.2, 4.0, 7.0]}
    y = {0: [0.50, 0.70, 0.80], 1: [0.40, 0.60, 0.75], 2: [0.45, 0.65, 0.85]}
    d = {0: 0.10, 1: 0.05, 2: -0.03}
    wbadge = {s: _run(x[s], y[s]) for s in x}
    random = {s: _run(x[s], np.subtract(y[s], d[s])) for s in x}
    random[2] = _run([2.2, 4.0, 5.0], np.subtract([0.45, 0.65, 0.65 + 0.20 / 3], d[2]))  # W-BADGE's line
    return {"wbadge": wbadge, "random": random, "mnlp": {0: _run([2.0, 6.0], [0.5, 0.9])}}, d


def test_paired_differences_to_wbadge_per_seed_on_the_grid_and_in_area():
    runs, d = _constructed()
    out = curves.compare(runs, 1.0)
    assert out["grid_pct"] == [2, 3, 4, 5, 6, 7]
    assert out["shared_span_pct"] == [2.5, 5.0]  # latest start (seed 1), earliest end (random seed 2)

    random = out["vs_wbadge"]["random"]
    diffs = np.array([d[0], d[1], d[2]])
    # at 3 % and 4 % every seed is inside both runs: the differences are d
    for i in (1, 2):
        assert random["grid"]["seeds"][i] == 3 and random["grid"]["wbadge_ahead"][i] == 2
        assert random["grid"]["mean"][i] == pytest.approx(diffs.mean())
        assert random["grid"]["sem"][i] == pytest.approx(diffs.std(ddof=1) / np.sqrt(3))
    # at 2 % only seed 0 has started; at 6 % random's seed 2 has stopped; at 7 % only seed 2's W-BADGE
    assert random["grid"]["seeds"] == [1, 3, 3, 3, 2, 0]
    assert random["grid"]["mean"][0] == pytest.approx(d[0]) and random["grid"]["sem"][0] is None
    assert random["grid"]["mean"][4] == pytest.approx((d[0] + d[1]) / 2) and random["grid"]["mean"][5] is None
    # area over [2.5, 5]: W-BADGE minus random is d for each seed
    assert random["auc"]["seeds"] == 3 and random["auc"]["wbadge_ahead"] == 2
    assert random["auc"]["mean"] == pytest.approx(diffs.mean())
    assert random["auc"]["sem"] == pytest.approx(diffs.std(ddof=1) / np.sqrt(3))

    mnlp = out["vs_wbadge"]["mnlp"]
    assert mnlp["auc"]["seeds"] == 1 and mnlp["auc"]["sem"] is None
    # seed 0 on [2.5, 5]: W-BADGE 0.5→0.7 (2→4) then →0.8 (6); MNLP 0.5 + 0.1 (x − 2)
    wbadge0 = (0.55 + 0.7) / 2 * 1.5 + (0.7 + 0.75) / 2 * 1.0
    mnlp0 = (0.55 + 0.8) / 2 * 2.5
    assert mnlp["auc"]["mean"] == pytest.approx((wbadge0 - mnlp0) / 2.5)
    assert mnlp["auc"]["wbadge_ahead"] == int(wbadge0 > mnlp0)
    assert "wbadge" not in out["vs_wbadge"]


def test_strategy_curve_on_the_grid_is_mean_and_standard_error_over_seeds():
    runs, _ = _constructed()
    wbadge = curves.compare(runs, 1.0)["strategies"]["wbadge"]
    # at 4 %: seeds 0 and 2 are at 0.70 and 0.65, seed 1 halfway between 0.40 (2.5) and 0.60 (4.5)
    at4 = np.array([0.70, 0.40 + 0.20 * 1.5 / 2, 0.65])
    assert wbadge["grid"]["mean"][2] == pytest.approx(at4.mean())
    assert wbadge["grid"]["sem"][2] == pytest.approx(at4.std(ddof=1) / np.sqrt(3))
    assert wbadge["grid"]["seeds"] == [1, 3, 3, 3, 3, 1]
    assert wbadge["auc"]["seeds"] == 3


def test_no_wbadge_no_paired_differences_and_no_shared_span_before_a_round():
    runs, _ = _constructed()
    assert curves.compare({"random": runs["random"]}, 1.0)["vs_wbadge"] == {}
    start_only = curves.compare({"wbadge": {0: _run([2.0], [0.5])}, "random": {0: _run([2.0], [0.5])}}, 1.0)
    assert start_only["shared_span_pct"] is None and start_only["strategies"]["wbadge"]["auc"]["mean"] is None


def _lines(runs):
    """Results lines (as :func:`loop.collect` writes them) of ``runs``."""
    return [{"strategy": name, "seed": seed, "round": r, "sentences": 10 * (r + 1), "words": int(100 * x),
             "words_pct": float(x), "val_f1": float(y), "test_f1": float(y)}
            for name, by_seed in runs.items() for seed, (xs, ys) in by_seed.items()
            for r, (x, y) in enumerate(zip(xs, ys))]


def test_summary_json_and_curves_png(tmp_path, monkeypatch):
    runs, _ = _constructed()
    config = al_conll.get_config("smoke")
    config.al.update(strategies=("random", "mnlp", "wbadge"), seeds=(0, 1, 2), rounds=2)
    monkeypatch.setattr("sys.orig_argv", ["/venv/bin/python3", "-m", "experiments.al_conll", "--workdir", "runs/x y"])
    summary = json.loads(json.dumps(loop.summarise(_lines(runs), None, config), allow_nan=False))
    assert (summary["seeds"], summary["rounds"], summary["dataset"]) == (3, 2, "conll2003")
    assert summary["command"] == "python -m experiments.al_conll --workdir 'runs/x y'"
    assert summary["config"]["al"]["budget"] == "words" and summary["config"]["al"]["seeds"] == [0, 1, 2]
    compared = curves.compare(runs, config.al.grid_step)
    assert summary["grid_pct"] == compared["grid_pct"] and summary["vs_wbadge"] == compared["vs_wbadge"]
    for name in ("random", "mnlp", "wbadge"):
        s = summary["strategies"][name]
        assert s["auc_mean_f1"] == s["auc"]["mean"] == compared["strategies"][name]["auc"]["mean"]
        assert s["grid"] == compared["strategies"][name]["grid"]
    rounds = summary["strategies"]["random"]["rounds"]
    assert [r["seeds"] for r in rounds] == [3, 3, 3] and rounds[0]["words"] == pytest.approx((200 + 250 + 220) / 3)
    assert rounds[2]["test_f1_mean"] == pytest.approx(np.mean([runs["random"][s][1][2] for s in range(3)]))
    loop_png = tmp_path / "curves.png"
    curves.plot_curves(summary, loop_png, title="synthetic")
    assert loop_png.stat().st_size > 10_000

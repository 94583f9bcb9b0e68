"""The README's AL table from a summary: F1 at chosen % words (mean ± sample std), the area over
the shared span, W-BADGE's paired lead, the verdict; unusable files are one clear error."""

import json

import numpy as np

from tapjax.al import curves, report
from tapjax.cli import al_report


def _summary():
    """Three seeds of W-BADGE and random on the same % words; random is W-BADGE minus 0.1, 0.05
    and -0.02 (seed 2: random ahead); MNLP is W-BADGE plus 0.01 in every seed."""
    x = np.array([2.0, 6.0, 12.0, 22.0])
    wb = {0: [0.6, 0.7, 0.8, 0.9], 1: [0.5, 0.66, 0.78, 0.88], 2: [0.55, 0.7, 0.75, 0.85]}
    lag = {0: 0.1, 1: 0.05, 2: -0.02}
    runs = {"wbadge": {s: (x, np.asarray(y)) for s, y in wb.items()},
            "random": {s: (x, np.asarray(y) - lag[s]) for s, y in wb.items()},
            "mnlp": {s: (x, np.asarray(y) + 0.01) for s, y in wb.items()}}
    compared = curves.compare(runs, 1.0)
    return {"dataset": "atis", "model": "tagger", "seeds": 3, "rounds": 3, **compared,
            "full_data": {"test_f1": 0.9412, "epochs": 25}}, wb, lag


def test_cells_are_mean_and_sample_std_at_the_asked_words_and_the_paired_lead():
    summary, wb, lag = _summary()
    text = report.table(summary, at=(5, 10, 30))
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in text.splitlines() if line.startswith("|")}
    at10 = np.array([np.interp(10, [6, 12], wb[s][1:3]) for s in (0, 1, 2)])
    assert rows["wbadge"][2] == f"{100 * at10.mean():.1f} ± {100 * at10.std(ddof=1):.1f}"
    assert rows["wbadge"][3] == "-"  # 30 % is past every run
    lags = np.array(list(lag.values()))
    sem = lags.std(ddof=1) / np.sqrt(3)
    assert rows["random"][-1].rstrip(" |") == f"{100 * lags.mean():+.1f} ± {100 * sem:.1f} (2/3 seeds)"
    assert rows["mnlp"][-1].rstrip(" |") == "-1.0 ± 0.0 (0/3 seeds)"
    assert "mean F1 over 2.0-22.0 % words" in text and "Full data: test F1 94.1 (25 epochs)." in text


def test_verdict_ranks_wbadge_by_area_and_names_baselines_behind_in_every_seed():
    summary, _, _ = _summary()
    assert report.verdict(summary) == ("W-BADGE does not lead: rank 2 of 3 by mean F1 over the shared span; "
                                       "ahead in every seed of: none")
    summary["strategies"].pop("mnlp")
    summary["vs_wbadge"].pop("mnlp")
    summary["vs_wbadge"]["random"]["auc"]["wbadge_ahead"] = 3
    assert report.verdict(summary).startswith("W-BADGE leads: rank 1 of 2") and summary["vs_wbadge"]
    assert report.verdict(summary).endswith("ahead in every seed of: random")


def test_an_unusable_summary_is_one_error_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"dataset": "atis"}))
    assert al_report.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not an AL summary.json" in err
    assert al_report.main([str(tmp_path / "none.json")]) == 2
    assert "not a readable JSON file" in capsys.readouterr().err
    summary, _, _ = _summary()
    good = tmp_path / "summary.json"
    good.write_text(json.dumps(summary))
    assert al_report.main([str(good), "--at", "10"]) == 0
    assert "F1 at 10 % words" in capsys.readouterr().out

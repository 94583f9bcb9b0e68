"""WER / ExpRate / <=k / by-stroke-count on hand-made cases and against the editdistance library."""

import math

import editdistance
import numpy as np
import pytest

from tapjax.tap.read.exprate import edit_distance, score, stroke_bucket


@pytest.mark.parametrize(
    "a, b, d",
    [
        ([], [], 0),
        ([], ["x"], 1),
        (["a", "b"], [], 2),
        (["x", "^", "{", "2", "}"], ["x", "^", "{", "2", "}"], 0),
        (["x", "^", "{", "2", "}"], ["x", "_", "{", "2", "}"], 1),
        (["\\frac", "{", "a", "}", "{", "b", "}"], ["a", "}", "b"], 4),
        (["k", "i", "t", "t", "e", "n"], ["s", "i", "t", "t", "i", "n", "g"], 3),
    ],
)
def test_edit_distance_hand_made(a, b, d):
    assert edit_distance(a, b) == d == edit_distance(b, a)


def test_edit_distance_matches_editdistance_on_random_lists():
    rng = np.random.default_rng(0)
    vocab = ["x", "y", "^", "{", "}", "\\frac", "2", "+", "="]
    for _ in range(300):
        a = list(rng.choice(vocab, rng.integers(0, 30)))
        b = list(rng.choice(vocab, rng.integers(0, 30)))
        assert edit_distance(a, b) == editdistance.eval(a, b)


def test_score_hand_made():
    refs = [["a", "+", "b"], ["x"], ["1", "2", "3", "4"], [], ["y"]]
    hyps = [["a", "+", "b"], [], ["1", "3", "4", "5"], [], ["z", "z", "z", "z"]]
    # distances 0, 1, 2, 0, 4 over 9 reference tokens
    s = score(refs, hyps)
    assert s["n"] == 5 and math.isclose(s["wer"], 7 / 9)
    assert (s["exprate"], s["le1"], s["le2"], s["le3"]) == (0.4, 0.6, 0.8, 0.8)
    assert s["per_stroke_count"] == {}


def test_score_against_editdistance_random():
    rng = np.random.default_rng(1)
    refs = [list(rng.choice(list("abcde"), rng.integers(0, 12))) for _ in range(200)]
    hyps = [list(r) if rng.random() < 0.3 else list(rng.choice(list("abcde"), rng.integers(0, 12))) for r in refs]
    d = np.array([editdistance.eval(r, h) for r, h in zip(refs, hyps)])
    s = score(refs, hyps)
    assert math.isclose(s["wer"], d.sum() / sum(map(len, refs)))
    assert [s["exprate"], s["le1"], s["le2"], s["le3"]] == [float(np.mean(d <= k)) for k in range(4)]


def test_per_stroke_count_buckets():
    refs = [["a"], ["a"], ["a"], ["a"]]
    hyps = [["a"], ["b"], ["a"], ["a"]]
    s = score(refs, hyps, stroke_counts=[1, 5, 6, 40])
    assert s["per_stroke_count"] == {
        "1-5": {"n": 2, "exprate": 0.5},
        "6-10": {"n": 1, "exprate": 1.0},
        ">30": {"n": 1, "exprate": 1.0},
    }
    assert list(s["per_stroke_count"]) == ["1-5", "6-10", ">30"]
    assert stroke_bucket(30) == "26-30" and stroke_bucket(31) == ">30"


def test_empty_references_give_nan_wer():
    s = score([[]], [["x"]])
    assert math.isnan(s["wer"]) and s["exprate"] == 0.0 and s["le1"] == 1.0


@pytest.mark.parametrize(
    "refs, hyps, strokes, match",
    [([["a"]], [], None, "1 references but 0"), ([], [], None, "no expressions"),
     ([["a"]], [["a"]], [1, 2], "2 stroke counts")],
)
def test_bad_input_is_reported(refs, hyps, strokes, match):
    with pytest.raises(ValueError, match=match):
        score(refs, hyps, stroke_counts=strokes)

"""Entity F1 (conlleval) against seqeval, on real CoNLL-2003 validation tags."""

import numpy as np
import pytest
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.metrics import precision_score, recall_score

from tapjax.al import corpora
from tapjax.al.spans import chunks, f1_score


def test_chunks():
    assert chunks(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == \
        {("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 5, 6)}
    assert chunks(["B-PER", "I-LOC"]) == {("PER", 0, 1), ("LOC", 1, 2)}


def _corrupt(tags, rng, types):
    """Deterministic corruption: drop, retype, split and shift chunks, add spurious ones."""
    out = list(tags)
    for i in range(len(out)):
        u = rng.random()
        if u < 0.05:
            out[i] = "O"
        elif u < 0.10:
            out[i] = out[i][:2] + rng.choice(types) if out[i] != "O" else "B-" + rng.choice(types)
        elif u < 0.13 and out[i].startswith("B-"):
            out[i] = "I-" + out[i][2:]
        elif u < 0.16 and out[i].startswith("I-"):
            out[i] = "B-" + out[i][2:]
    return out


def test_matches_seqeval_on_real_testa(data_root):
    gold = corpora.load("conll2003", data_root)["validation"].tags
    rng = np.random.default_rng(0)
    pred = [_corrupt(t, rng, ["PER", "LOC", "ORG", "MISC"]) for t in gold]
    ours = f1_score(gold, pred)
    assert 0.5 < ours["f1"] < 0.95  # the corruption really changes the score
    assert ours["f1"] == pytest.approx(seqeval_f1(gold, pred), abs=1e-12)
    assert ours["precision"] == pytest.approx(precision_score(gold, pred), abs=1e-12)
    assert ours["recall"] == pytest.approx(recall_score(gold, pred), abs=1e-12)
    assert f1_score(gold, gold)["f1"] == 1.0


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 gold tags but 1 predicted"):
        f1_score([["O", "O"]], [["O"]])

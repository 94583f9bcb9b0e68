"""Eq. 33's weights chosen on a validation split (tapjax.tap.read.mixture_weights): the grid, the choice on a
constructed case whose best setting is known, the weights file read back, bad weights refused."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from tapjax.cli import evaluate
from tapjax.common.errors import InputError
from tapjax.common.family import Mixture
from tapjax.tap.ink.crohme import Split
from tapjax.tap.ink.inputs import Points
from tapjax.tap.ink.symbols import Vocab
from tapjax.tap.read import mixture_weights
from tapjax.tap.read.runs import Runs, with_weights

VOCAB = Vocab(["<eol>", "x", "2"])


@dataclasses.dataclass(frozen=True)
class Spell:
    """A family that writes one caption whatever the ink: ``params["table"] [T, V]`` holds the
    log-probabilities of each step."""

    def encode(self, params, features, feature_mask):
        return {"rows": feature_mask[:, :1]}

    def init_state(self, params, enc):
        return {"t": (enc["rows"][:, 0] * 0).astype(jnp.int32)}  # from enc: varies over the mesh as the batch

    def step(self, params, enc, state, prev_tokens):
        return params["table"][jnp.minimum(state["t"], 1)], {"t": state["t"] + 1}


def spelling(symbol: int) -> dict:
    """The table of a :class:`Spell` certain of ``symbol`` then ``<eol>``."""
    return {"table": jax.nn.log_softmax(10.0 * jnp.eye(3)[jnp.array([symbol, 0])])}


def toy_runs(n: int = 4) -> tuple[Runs, Split]:
    """A mixture of a family that writes the truth ``x`` and one that writes ``2``, and a split of ``n``
    expressions whose truth is ``x``."""
    rng = np.random.default_rng(0)
    features = [rng.normal(size=(int(rng.integers(3, 9)), 8)).astype(np.float32) for _ in range(n)]
    split = Split("toy", [f"k{i}" for i in range(n)], ["x"] * n, features,
                  [np.zeros(len(f), np.int32) for f in features], [["x"]] * n, [[[0]]] * n, [1] * n)
    config = ml_collections.ConfigDict(dict(eval=dict(max_len=3, batch_size=4, length_norm=False),
                                            data=dict(pad_to_longest=False), train=dict(seed=0)))
    params = {"members": (spelling(1), spelling(2)), "weights": jnp.array([0.5, 0.5])}
    return Runs(Mixture((Spell(), Spell()), None), params, config, VOCAB, (Points(4), Points(4))), split


def test_the_simplex_grid_holds_every_setting_in_steps():
    assert mixture_weights.simplex_grid(3, 0.5) == [(1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.5, 0.0, 0.5),
                                                    (0.0, 1.0, 0.0), (0.0, 0.5, 0.5), (0.0, 0.0, 1.0)]
    assert len(mixture_weights.simplex_grid(3, 0.1)) == 66
    with pytest.raises(InputError, match="whole number"):
        mixture_weights.simplex_grid(2, 0.3)
    assert mixture_weights.parse_grid("0.5,0.5; 1,0") == [(0.5, 0.5), (1.0, 0.0)]


def test_tuning_picks_the_weights_that_read_the_truth():
    """Greedy reads ``x`` only where the first family weighs more; of the two settings that read every
    expression (same ExpRate and WER), the earlier one in the grid is chosen."""
    runs, split = toy_runs()
    grid = [(0.0, 1.0), (0.3, 0.7), (0.7, 0.3), (1.0, 0.0)]
    best, scores = mixture_weights.tune(runs, split, grid, beam=1)
    assert best == (0.7, 0.3)
    assert [s["exprate"] for s in scores] == [0.0, 0.0, 1.0, 1.0] and scores[0]["wer"] == 1.0


def test_the_weights_file_is_read_back_and_bad_weights_are_refused(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"weights": [0.7, 0.3], "split": "test2013"}))
    assert mixture_weights.read_weights(path) == (0.7, 0.3)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="bad.json: not a weights file"):
        mixture_weights.read_weights(tmp_path / "bad.json")
    runs, _ = toy_runs()
    np.testing.assert_allclose(with_weights(runs, (0.7, 0.3)).params["weights"], [0.7, 0.3])
    for weights in ((0.5, 0.2), (1.2, -0.2), (0.2, 0.3, 0.5)):
        with pytest.raises(InputError, match="need 2 weights"):
            with_weights(runs, weights)
    with pytest.raises(InputError, match="--weights: 'a,b': expected weights"):
        mixture_weights.parse_weights("a,b")


def test_a_language_model_without_weights_is_one_error_line(capsys):
    assert evaluate.main(["--split", "test2014", "--lm", "somewhere"]) == 2
    assert "error: --lm: a language model decodes only in a mixture" in capsys.readouterr().err


def test_table_3_adds_the_language_model_keeping_the_tap_to_wap_ratio_of_stage_a():
    from experiments import crohme_table3
    grid = crohme_table3.lm_grid((0.6, 0.4), shares=(1.0, 0.9, 0.5))
    assert grid == [(0.6, 0.4, 0.0), (0.54, 0.36, 0.1), (0.3, 0.2, 0.5)]
    assert all(abs(sum(w) - 1) < 1e-9 and w[0] / w[1] == pytest.approx(1.5) for w in grid)
    assert (crohme_table3.TAP_SHARES[0] == 1.0 and crohme_table3.TAP_SHARES[-1] == 0.0
            and len(crohme_table3.TAP_SHARES) == 11)


def test_each_table_3_row_names_the_evaluate_command_that_decodes_it_alone():
    from experiments import crohme_table3
    args = crohme_table3.parser().parse_args(["--tap", "T", "--wap", "W", "--lm", "L", "--beam", "5"])
    assert crohme_table3.command(args, "test2016", ("tap", "wap", "lm"), (0.54, 0.36, 0.1)) == (
        "python -m tapjax.evaluate --checkpoint T --checkpoint W --lm L --weights 0.54,0.36,0.1 "
        "--split test2016 --beam 5 --json")
    assert crohme_table3.command(args, "test2014", ("wap",)) == (
        "python -m tapjax.evaluate --checkpoint W --split test2014 --beam 5 --json")

"""The GRU language model (tapjax.tap.nets.language_model): a decoding family that reads no ink,
its training by teacher forcing, perplexity, saving, and its run from the command line (``tapjax lm``)."""

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tapjax.cli import lm as lm_command
from tapjax.common.beam import beam_search
from tapjax.common.errors import InputError
from tapjax.common.family import Mixture
from tapjax.tap.ink import crohme
from tapjax.tap.ink.symbols import Vocab
from tapjax.tap.nets import language_model as lm
from tapjax.tap.nets.language_model import LanguageModel, LMConfig, TrainSettings

CONFIG = str(Path(__file__).parents[1] / "experiments" / "configs" / "language_model.py")
TINY = LanguageModel(LMConfig(vocab_size=11, embed_dim=8, hidden=16))
# Three captions (ids, <eol> = 0 last) that differ from their first symbol on.
THREE = [np.array(c, np.int32) for c in ([1, 2, 3, 0], [4, 5, 0], [6, 7, 8, 9, 10, 0])]


@pytest.fixture(scope="module")
def params():
    return TINY.init(jax.random.PRNGKey(0))


@pytest.fixture(scope="module")
def overfit():
    """TINY fitted to THREE."""
    settings = TrainSettings(epochs=150, batch_size=4, learning_rate=1e-2, clip_norm=5.0, pad_multiple=8, seed=0)
    params, history = lm.train(TINY, THREE, settings)
    assert len(history) == 150 and history[-1]["loss"] < history[0]["loss"]
    return params


def toy_batch(B=3, N=5):
    return jnp.ones((B, N, 8)), jnp.ones((B, N))


def test_next_symbol_probabilities_sum_to_one(params):
    enc = TINY.encode(params, *toy_batch())
    state = TINY.init_state(params, enc)
    for prev in ([-1, -1, -1], [0, 5, 10], [3, 3, 7]):
        log_probs, state = TINY.step(params, enc, state, jnp.array(prev, jnp.int32))
        assert log_probs.shape == (3, 11)
        np.testing.assert_allclose(jnp.exp(log_probs).sum(-1), 1.0, rtol=1e-5)


def test_step_ignores_enc_but_its_batch_size(params):
    own = TINY.encode(params, *toy_batch())
    tap_like = {"A": jnp.full((3, 7, 4), 9.0), "mask": jnp.ones((3, 7)), "keys": -jnp.ones((3, 7, 2))}
    prev = jnp.array([-1, 2, 4], jnp.int32)
    outputs = [TINY.step(params, enc, TINY.init_state(params, enc), prev) for enc in (own, tap_like)]
    jax.tree.map(np.testing.assert_array_equal, *outputs)
    log_probs, state = TINY.step(params, None, TINY.init_state(params, own), prev)  # enc never read
    np.testing.assert_array_equal(log_probs, outputs[0][0])
    assert state["h"].shape == (3, 16)


def test_teacher_forcing_runs_the_decoding_step(params):
    tokens, _ = lm.pad(THREE, rows=3, multiple=8)
    forced = TINY.teacher_forced(params, jnp.asarray(tokens))
    state, prev = TINY.init_state(params, tokens), -jnp.ones(3, jnp.int32)
    for t in range(tokens.shape[1]):
        log_probs, state = TINY.step(params, None, state, prev)
        np.testing.assert_allclose(forced[:, t], log_probs, atol=1e-5)
        prev = jnp.asarray(tokens[:, t])


def test_padding_changes_no_likelihood(params):
    alone = lm.nll_sums(TINY, params, *map(jnp.asarray, lm.pad(THREE[2:], rows=1, multiple=1)))
    padded = lm.nll_sums(TINY, params, *map(jnp.asarray, lm.pad(THREE, rows=5, multiple=16)))
    separately = [lm.nll_sums(TINY, params, *map(jnp.asarray, lm.pad([s], 1, 1))) for s in THREE]
    assert float(alone[1]) == 6 and float(padded[1]) == 13
    np.testing.assert_allclose(padded[0], sum(float(s[0]) for s in separately), rtol=1e-5)


def test_an_epoch_holds_every_caption_once_in_batches_of_one_length():
    sequences = [np.arange(1, n + 1, dtype=np.int32) for n in (1, 3, 9, 9, 12, 17, 2, 8)]
    settings = TrainSettings(epochs=1, batch_size=3, learning_rate=1e-2, clip_norm=5.0, pad_multiple=8, seed=0)
    batches = lm.epoch_batches(sequences, settings, np.random.default_rng(0))
    assert all(tokens.shape == mask.shape and tokens.shape[0] == 3 and tokens.shape[1] % 8 == 0
               for tokens, mask in batches)
    rows = sorted(tuple(t[m > 0]) for tokens, mask in batches for t, m in zip(tokens, mask) if m.any())
    assert rows == sorted(tuple(s) for s in sequences)


def test_a_tiny_model_overfits_three_captions(overfit):
    # Without input, the first symbol can at best be one of three, each 1/3: the perplexity's floor.
    floor = math.exp(3 * math.log(3) / sum(map(len, THREE)))
    assert lm.perplexity(TINY, overfit, THREE) < 1.02 * floor


def test_training_keeps_the_epoch_best_on_validation():
    valid = [np.array([4, 5, 6, 0], np.int32)]  # unlike any training caption: fitting them hurts it
    settings = TrainSettings(epochs=40, batch_size=4, learning_rate=1e-2, clip_norm=5.0, pad_multiple=8, seed=0)
    params, history = lm.train(TINY, THREE, settings, valid)
    scores = [record["valid_perplexity"] for record in history]
    assert scores.index(min(scores)) < len(scores) - 1  # the last epoch is not the best
    assert lm.perplexity(TINY, params, valid) == pytest.approx(min(scores), abs=1e-3)


def test_beam_search_decodes_the_captions_it_learnt(overfit):
    result = beam_search(TINY, overfit, *toy_batch(B=2), beam=3, max_len=8, n_best=3, length_norm=False)
    assert result.tokens.shape == (2, 3, 8) and bool(result.finished.all())
    found = {tuple(row[:n].tolist()) for row, n in zip(result.tokens[0], result.lengths[0])}
    assert found == {tuple(c[:-1].tolist()) for c in THREE}
    np.testing.assert_allclose(result.scores[0], -math.log(3), atol=0.05)


def test_an_equal_mixture_of_one_model_is_that_model(overfit):  # Eq. 33 with two identical families
    mixture = Mixture((TINY, TINY), (0.5, 0.5))
    alone = beam_search(TINY, overfit, *toy_batch(), beam=2, max_len=8, length_norm=True)
    mixed = beam_search(mixture, (overfit, overfit), *toy_batch(), beam=2, max_len=8, length_norm=True)
    np.testing.assert_array_equal(alone.tokens, mixed.tokens)
    np.testing.assert_allclose(alone.scores, mixed.scores, atol=1e-5)


def test_saved_parameters_load_back(tmp_path, params):
    lm.save(tmp_path, TINY.config, params, extra={"note": 1})
    family, loaded = lm.load(tmp_path)
    assert family == TINY and json.loads((tmp_path / lm.CONFIG_FILE).read_text())["note"] == 1
    jax.tree.map(np.testing.assert_array_equal, params, loaded)
    lm.save(tmp_path, LMConfig(vocab_size=11, embed_dim=8, hidden=32), params)
    with pytest.raises(InputError, match="do not match"):
        lm.load(tmp_path)
    with pytest.raises(InputError, match="not a saved language model"):
        lm.load(tmp_path / "missing")


def test_the_training_captions_are_in_the_vocabulary(data_root):
    vocab = Vocab.from_data_root(data_root)
    captions = lm.caption_file(data_root / "crohme" / crohme.CAPTIONS["TrainINKML"])
    sequences = lm.encode_captions(captions, vocab)
    assert len(vocab) == 111 and len(sequences) == 8835 and all(s[-1] == 0 for s in sequences)


def test_the_command_line_trains_saves_and_scores(tiny_crohme, tmp_path, capsys):
    argv = ["--config", CONFIG, "--workdir", str(tmp_path / "run"), "--data_dir", str(tiny_crohme), "--json",
            "--config.train.epochs=2", "--config.model.embed_dim=4", "--config.model.hidden=8",
            "--config.train.batch_size=2"]
    assert lm_command.main(argv) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert [json.loads(line)["epoch"] for line in err.splitlines() if line.startswith("{")] == [1, 2]  # on stderr
    assert result["captions"] == {"train": 3, "test2013": 1, "test2014": 2, "test2016": 1}
    assert result["left_out"] == {"test2013": 0, "test2016": 1} and result["epoch"] in (1, 2)
    assert result["parameters"] == 6 * 4 + (4 + 8 + 1) * 24 + 9 * 6
    assert all(1 < value < 10 for value in result["perplexity"].values())
    family, _ = lm.load(tmp_path / "run")
    assert family.config == LMConfig(vocab_size=6, embed_dim=4, hidden=8)


def test_the_command_line_names_a_data_root_without_crohme(tmp_path, capsys):
    assert lm_command.main(["--config", CONFIG, "--workdir", str(tmp_path / "run"), "--data_dir", str(tmp_path)]) == 2
    assert "no CROHME vocabulary" in capsys.readouterr().err


@pytest.mark.parametrize("override, problem", [("--config.train.epochs=0", "epochs"),
                                               ("--config.data.valid=test2014", "data.valid")])
def test_the_command_line_refuses_bad_settings(tiny_crohme, tmp_path, capsys, override, problem):
    argv = ["--config", CONFIG, "--workdir", str(tmp_path / "run"), "--data_dir", str(tiny_crohme), override]
    assert lm_command.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and problem in err and err.count("\n") == 1

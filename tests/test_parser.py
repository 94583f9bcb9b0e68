"""Parser and TAP family: padding safety, attention, one shared step for training and decoding."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.tap.nets.attention import TEMPORAL_FORMS
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.model_config import TAPConfig

TINY = TAPConfig.from_config(crohme14.get_config("paper").model,  # the paper's, shrunk
                             vocab_size=11, tracker_hidden=6, embed_dim=5, parser_hidden=7, attention_dim=8,
                             coverage_kernel=5, coverage_filters=3, maxout_dim=6)


def _inputs(rng, n_real=(16, 10), N=16):
    features = rng.normal(size=(len(n_real), N, 8)).astype(np.float32)
    mask = np.zeros((len(n_real), N), np.float32)
    for b, n in enumerate(n_real):
        mask[b, :n] = 1
    return features, mask


def test_padding_never_changes_real_steps():
    model = TAP(TINY)
    params = model.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    features, mask = _inputs(rng)
    tokens = rng.integers(1, 11, size=(2, 5)).astype(np.int32)
    lp, alpha, a_mask = model.teacher_forced(params, features, mask, tokens)
    # the same expressions padded to 32 points with garbage in the padding
    padded = np.concatenate([features * mask[..., None], 99 * np.ones((2, 16, 8), np.float32)], axis=1)
    padded[0, 16:] = 0  # row 0 pads with zeros, row 1 with garbage after point 10
    padded[1, 10:16] = 99
    pmask = np.concatenate([mask, np.zeros((2, 16), np.float32)], axis=1)
    lp2, alpha2, a_mask2 = model.teacher_forced(params, padded, pmask, tokens)
    np.testing.assert_allclose(lp2, lp, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(alpha2[:, :, :4], alpha, rtol=1e-4, atol=1e-6)
    assert np.all(np.asarray(alpha2)[:, :, 4:] == 0)
    np.testing.assert_allclose(np.asarray(alpha).sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.asarray(alpha)[1, :, 3:] == 0)  # row 1: 10 points -> 3 real annotation steps
    np.testing.assert_array_equal(a_mask[1], [1, 1, 1, 0])


@pytest.mark.parametrize("form", TEMPORAL_FORMS)
def test_training_runs_the_decoding_step(form):
    model = TAP(dataclasses.replace(TINY, temporal_attention=form))
    params = model.init(jax.random.key(1))
    rng = np.random.default_rng(1)
    features, mask = _inputs(rng)
    tokens = rng.integers(1, 11, size=(2, 4)).astype(np.int32)
    lp, alpha, _ = model.teacher_forced(params, features, mask, tokens)
    enc = model.encode(params, features, mask)
    state = model.init_state(params, enc)
    prev = -jnp.ones(2, jnp.int32)
    for t in range(4):
        step_lp, state = model.step(params, enc, state, prev)
        np.testing.assert_allclose(step_lp, lp[:, t], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(state["alpha"], alpha[:, t], rtol=1e-5, atol=1e-7)
        assert state["beta"].shape == (2,)
        prev = tokens[:, t]
    for leaf in jax.tree.leaves((enc, state)):
        assert leaf.shape[0] == 2  # beam search tiles every leaf along the batch axis
    np.testing.assert_allclose(jnp.exp(step_lp).sum(-1), 1.0, rtol=1e-5)


def test_first_step_uses_zero_embedding_and_ablations_drop_beta():
    model = TAP(TINY)
    params = model.init(jax.random.key(2))
    features, mask = _inputs(np.random.default_rng(2))
    enc = model.encode(params, features, mask)
    def first(p):
        return model.step(p, enc, model.init_state(p, enc), -jnp.ones(2, jnp.int32))[0]
    changed = jax.tree.map(lambda x: x, params)
    changed["parser"]["E"]["embedding"] = params["parser"]["E"]["embedding"] + 1.0
    np.testing.assert_allclose(first(changed), first(params), rtol=1e-6)
    p1 = TAP(dataclasses.replace(TINY, coverage=False, temporal=False))
    p1_params = p1.init(jax.random.key(0))
    assert "temporal" not in p1_params["parser"] and "Q" not in p1_params["parser"]["spatial"]
    _, state = p1.step(p1_params, p1.encode(p1_params, features, mask),
                       p1.init_state(p1_params, p1.encode(p1_params, features, mask)), jnp.array([3, 4]))
    assert "beta" not in state and state["alpha"].shape == (2, 4)


@pytest.mark.parametrize("form, own_bias", [("paper", False), ("authors", True)])
def test_temporal_attention_shares_W_att(form, own_bias):
    """Eq. 25 reuses the spatial attention's W_att (no W_m of its own); only the authors' form
    has a bias on the temporal energy."""
    params = TAP(dataclasses.replace(TINY, temporal_attention=form)).init(jax.random.key(0))
    temporal = params["parser"]["temporal"]
    assert set(temporal) == {"W_yg", "U_sg", "W_shat", "U_m", "nu_att2"}
    assert ("bias" in temporal["nu_att2"]) == own_bias
    assert params["parser"]["spatial"]["W_att"]["kernel"].shape == (TINY.parser_hidden, TINY.attention_dim)


def test_unknown_temporal_form_is_refused():
    with pytest.raises(ValueError, match="temporal_attention is 'logsumexp'"):
        dataclasses.replace(TINY, temporal_attention="logsumexp")

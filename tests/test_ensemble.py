"""Ensembles (TAP Eq. 32) and mixtures (Eq. 33) decode like the models they are built from."""

import jax.numpy as jnp
import numpy as np
import pytest
from test_beam import MAX_LEN, ToyFamily, toy_batch

from tapjax.common.beam import beam_search
from tapjax.common.family import Ensemble, Mixture, stack_params


@pytest.fixture(scope="module")
def toy():
    family = ToyFamily()
    return family, family.init(0), family.init(1), *toy_batch()


def assert_same_result(a, b):
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.alpha, b.alpha, rtol=1e-5, atol=1e-6)


def decode(family, params, features, mask):
    return beam_search(family, params, features, mask, beam=3, max_len=MAX_LEN, n_best=3, with_attention=True,
                       length_norm=False)


def test_ensemble_of_one_is_the_model(toy):
    family, p0, _, features, mask = toy
    assert_same_result(decode(Ensemble(family), stack_params([p0]), features, mask), decode(family, p0, features, mask))


def test_ensemble_of_two_identical_models_is_the_model(toy):
    family, p0, _, features, mask = toy
    assert_same_result(decode(Ensemble(family), stack_params([p0, p0]), features, mask),
                       decode(family, p0, features, mask))


def step_log_probs(family, params, features, mask):
    enc = family.encode(params, features, mask)
    lp, _ = family.step(params, enc, family.init_state(params, enc), jnp.full((features.shape[0],), -1))
    return lp


def test_ensemble_averages_probabilities(toy):
    family, p0, p1, features, mask = toy
    got = step_log_probs(Ensemble(family), stack_params([p0, p1]), features, mask)
    want = np.log((np.exp(step_log_probs(family, p0, features, mask))
                   + np.exp(step_log_probs(family, p1, features, mask))) / 2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_mixture_weights_probabilities(toy):
    family, p0, p1, features, mask = toy
    other = ToyFamily(temperature=0.5)  # a different family
    got = step_log_probs(Mixture((family, other), (0.3, 0.7)), (p0, p1), features, mask)
    want = np.log(0.3 * np.exp(step_log_probs(family, p0, features, mask))
                  + 0.7 * np.exp(step_log_probs(other, p1, features, mask)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_mixture_with_all_weight_on_one_family_is_that_family(toy):
    family, p0, p1, features, mask = toy
    mixture = Mixture((family, ToyFamily(temperature=0.5)), (1.0, 0.0))
    assert_same_result(decode(mixture, (p0, p1), features, mask), decode(family, p0, features, mask))


def test_mixture_of_ensembles_decodes(toy):
    family, p0, p1, features, mask = toy
    mixture = Mixture((Ensemble(family), family), (0.5, 0.5))
    res = decode(mixture, (stack_params([p0, p1]), p1), features, mask)
    # finished hypotheses first, each group best first
    fin, scores = np.asarray(res.finished), np.asarray(res.scores)
    assert np.all(np.diff(fin.astype(int), axis=1) <= 0) and np.all(np.isfinite(scores[:, 0]))
    assert np.all((np.diff(scores, axis=1) <= 0) | (fin[:, :-1] != fin[:, 1:]))


def test_bad_mixture_weights_are_reported():
    with pytest.raises(ValueError, match="sum to 1"):
        Mixture((ToyFamily(), ToyFamily()), (0.5, 0.6))
    with pytest.raises(ValueError, match="one weight per family"):
        Mixture((ToyFamily(),), (0.5, 0.5))

"""Beam search against brute force, greedy against a Python loop, on a 5-symbol toy family."""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tapjax.common.beam import _search, beam_search, greedy
from tapjax.common.rnn import gru_step

V, H, MAX_LEN = 5, 6, 4


@dataclasses.dataclass(frozen=True)
class ToyFamily:
    """A tiny attention GRU decoder over random features; next symbol depends on the
    features, the previous symbol and the position (a learned position bias)."""

    temperature: float = 2.0

    def init(self, seed: int) -> dict:
        k = jax.random.split(jax.random.key(seed), 6)
        return {
            "enc": jax.random.normal(k[0], (8, H)),
            "emb": jax.random.normal(k[1], (V, H)),
            "W": jax.random.normal(k[2], (H, 3 * H)) / np.sqrt(H),
            "U": jax.random.normal(k[3], (H, 3 * H)) / np.sqrt(H),
            "out": jax.random.normal(k[4], (H, V)) * self.temperature,
            "pos": jax.random.normal(k[5], (MAX_LEN + 1, V)),
        }

    def encode(self, params, features, feature_mask):
        return {"A": jnp.tanh(features @ params["enc"]), "mask": feature_mask}

    def init_state(self, params, enc):
        m = enc["mask"][..., None]
        h = (enc["A"] * m).sum(1) / m.sum(1)
        B, L = enc["mask"].shape
        return {"h": h, "t": jnp.zeros((B,), jnp.int32), "alpha": jnp.zeros((B, L)), "beta": jnp.zeros((B,))}

    def step(self, params, enc, state, prev_tokens):
        e = jnp.where(enc["mask"] > 0, jnp.einsum("blh,bh->bl", enc["A"], state["h"]), -1e9)
        alpha = jax.nn.softmax(e, axis=-1)
        ctx = jnp.einsum("bl,blh->bh", alpha, enc["A"])
        x = jnp.where((prev_tokens >= 0)[:, None], params["emb"][jnp.maximum(prev_tokens, 0)], 0.0) + ctx
        h, _ = gru_step(params["U"], state["h"], x @ params["W"])
        logits = h @ params["out"] + params["pos"][jnp.minimum(state["t"], MAX_LEN)]
        beta = jax.nn.sigmoid(h[:, 0])
        return jax.nn.log_softmax(logits), {"h": h, "t": state["t"] + 1, "alpha": alpha, "beta": beta}


def toy_batch(B=2, N=7, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(B, N, 8)).astype(np.float32)
    mask = np.ones((B, N), np.float32)
    mask[1:, N - 2 :] = 0.0  # a padded expression
    return jnp.asarray(features), jnp.asarray(mask)


def teacher_forced(family, params, features, mask, tokens):
    """Summed log-prob and per-step state of ``tokens`` (ending with EOS) for one expression."""
    enc = family.encode(params, features[None], mask[None])
    state, prev, total, states = family.init_state(params, enc), jnp.array([-1]), 0.0, []
    for tok in tokens:
        lp, state = family.step(params, enc, state, prev)
        total, prev = total + float(lp[0, tok]), jnp.array([tok])
        states.append(state)
    return total, states


def brute_force(family, params, features, mask, max_len):
    """Every sequence of 0..max_len-1 symbols followed by EOS, with its score, best first."""
    scored = []
    for n in range(max_len):
        for seq in itertools.product(range(1, V), repeat=n):
            scored.append((teacher_forced(family, params, features, mask, list(seq) + [0])[0], list(seq)))
    return sorted(scored, key=lambda s: -s[0])


@pytest.fixture(scope="module")
def toy():
    family = ToyFamily()
    return family, family.init(0), *toy_batch()


def exhaustive_beam(max_len):
    """A beam wide enough never to prune: all extensions of all prefixes."""
    return sum(V * (V - 1) ** t for t in range(max_len))


def test_wide_beam_finds_brute_force_best_and_nbest(toy):
    family, params, features, mask = toy
    max_len = 3
    res = beam_search(family, params, features, mask, beam=exhaustive_beam(max_len), max_len=max_len, n_best=5,
                      length_norm=False)
    for b in range(features.shape[0]):
        truth = brute_force(family, params, features[b], mask[b], max_len)
        np.testing.assert_allclose(res.scores[b], [s for s, _ in truth[:5]], rtol=1e-5, atol=1e-5)
        assert np.all(np.diff(np.asarray(res.scores[b])) <= 0)
        for k, (_, seq) in enumerate(truth[:5]):
            assert res.finished[b, k] and int(res.lengths[b, k]) == len(seq)
            np.testing.assert_array_equal(res.tokens[b, k], seq + [0] * (max_len - len(seq)))


def test_length_norm_ranks_by_score_per_step(toy):
    family, params, features, mask = toy
    max_len = 3
    res = beam_search(family, params, features, mask, beam=exhaustive_beam(max_len), max_len=max_len, length_norm=True)
    for b in range(features.shape[0]):
        score, seq = max(brute_force(family, params, features[b], mask[b], max_len),
                         key=lambda s: s[0] / (len(s[1]) + 1))
        np.testing.assert_allclose(res.scores[b, 0], score, rtol=1e-5)
        np.testing.assert_array_equal(res.tokens[b, 0, : len(seq) + 1], seq + [0])


@dataclasses.dataclass(frozen=True)
class TableFamily:
    """Hand-built next-symbol distributions, one per step, whatever came before:
    ``[EOS]`` scores log 0.5 (the best sum), ``[1, 1, EOS]`` log(0.5 * 0.8 * 0.9) (the best
    per symbol: -0.340 against -0.693)."""

    def init(self, seed: int) -> dict:
        probs = np.full((MAX_LEN, V), 1e-6)
        probs[0, [0, 1]] = 0.5
        probs[1, [0, 1, 2]] = 0.1, 0.8, 0.1
        probs[2, [0, 1]] = 0.9, 0.1
        probs[3, 0] = 1.0
        return {"log_probs": jnp.log(probs / probs.sum(1, keepdims=True))}

    def encode(self, params, features, feature_mask):
        return {"mask": feature_mask}

    def init_state(self, params, enc):
        return {"t": jnp.zeros(enc["mask"].shape[:1], jnp.int32)}

    def step(self, params, enc, state, prev_tokens):
        return params["log_probs"][jnp.minimum(state["t"], MAX_LEN - 1)], {"t": state["t"] + 1}


@pytest.mark.parametrize("length_norm, expected", [(False, []), (True, [1, 1])])
def test_the_two_rankings_disagree_on_a_hand_built_family(length_norm, expected):
    family = TableFamily()
    features, mask = toy_batch()
    res = beam_search(family, family.init(0), features, mask, beam=4, max_len=MAX_LEN, length_norm=length_norm)
    for b in range(features.shape[0]):
        assert res.finished[b, 0] and int(res.lengths[b, 0]) == len(expected)  # symbols before EOS
        np.testing.assert_array_equal(res.tokens[b, 0, : len(expected) + 1], expected + [0])
        np.testing.assert_allclose(res.scores[b, 0], np.log(0.5) if not expected else np.log(0.5 * 0.8 * 0.9),
                                   rtol=1e-5)


def python_greedy(family, params, features, mask, max_len):
    enc = family.encode(params, features[None], mask[None])
    state, prev, out, total, alphas = family.init_state(params, enc), jnp.array([-1]), [], 0.0, []
    for _ in range(max_len):
        lp, state = family.step(params, enc, state, prev)
        tok = int(jnp.argmax(lp[0]))
        total += float(lp[0, tok])
        alphas.append(np.asarray(state["alpha"][0]))
        if tok == 0:
            break
        out.append(tok)
        prev = jnp.array([tok])
    return out, total, np.stack(alphas)


def test_beam_one_is_python_greedy(toy):
    family, params, features, mask = toy
    res = greedy(family, params, features, mask, max_len=MAX_LEN, with_attention=True)
    for b in range(features.shape[0]):
        seq, total, alphas = python_greedy(family, params, features[b], mask[b], MAX_LEN)
        assert int(res.lengths[b, 0]) == len(seq)
        np.testing.assert_array_equal(res.tokens[b, 0, : len(seq)], seq)
        np.testing.assert_allclose(res.scores[b, 0], total, rtol=1e-5)
        np.testing.assert_allclose(res.alpha[b, : len(alphas)], alphas, rtol=1e-5, atol=1e-6)


def test_best_hypothesis_replays_to_its_score_and_attention(toy):
    family, params, features, mask = toy
    res = beam_search(family, params, features, mask, beam=3, max_len=MAX_LEN, with_attention=True, length_norm=False)
    for b in range(features.shape[0]):
        n = int(res.lengths[b, 0])
        steps = n + 1 if res.finished[b, 0] else n
        toks = [int(t) for t in res.tokens[b, 0, :steps]]
        total, states = teacher_forced(family, params, features[b], mask[b], toks)
        np.testing.assert_allclose(res.scores[b, 0], total, rtol=1e-5)
        np.testing.assert_allclose(res.alpha[b, :steps], np.stack([s["alpha"][0] for s in states]),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(res.beta[b, :steps], [float(s["beta"][0]) for s in states], rtol=1e-5)
        assert np.all(np.asarray(res.alpha[b, steps:]) == 0)


def test_unfinished_search_returns_best_live_hypothesis(toy):
    family, params, features, mask = toy
    params = dict(params, pos=params["pos"].at[:, 0].set(-1e4))  # EOS (almost) impossible
    res = beam_search(family, params, features, mask, beam=2, max_len=3, length_norm=False)
    assert not np.any(res.finished) and np.all(res.lengths == 3) and np.all(res.tokens > 0)


def test_forced_length_runs_exactly_that_many_steps(toy):
    family, params, features, mask = toy
    forced = jnp.array([0, 2], jnp.int32)
    res = beam_search(family, params, features, mask, beam=4, max_len=MAX_LEN, forced_length=forced, length_norm=False)
    np.testing.assert_array_equal(res.lengths[:, 0], forced)
    assert np.all(res.finished) and np.all(res.tokens[1, 0, :2] > 0) and np.all(res.tokens[1, 0, 2:] == 0)


def test_compiled_once_per_shape(toy):
    family, params, features, mask = toy
    beam_search(family, params, features, mask, beam=2, max_len=MAX_LEN, length_norm=False)
    size = _search._cache_size()
    beam_search(ToyFamily(), params, features + 1.0, mask, beam=2, max_len=MAX_LEN, length_norm=False)
    assert _search._cache_size() == size


def test_bad_shapes_are_reported(toy):
    family, params, features, mask = toy
    with pytest.raises(ValueError, match="feature_mask"):
        beam_search(family, params, features, mask[:, :3], beam=2, max_len=MAX_LEN, length_norm=False)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(family, params, features, mask, beam=2, max_len=MAX_LEN, n_best=5, length_norm=False)

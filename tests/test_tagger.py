"""BiLSTM tagger and encoder-decoder: shapes, padding, per-example dropout, teacher forcing.

Models are run jitted: one compilation per shape instead of one per operation.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tapjax.al.taggers import BiLSTMEncoderDecoder, BiLSTMTagger, CharEncoder

MODELS = [BiLSTMTagger(50, 5, embed_dim=8, hidden=6), BiLSTMEncoderDecoder(50, 5, embed_dim=8, hidden=6, decoder=7)]


def _init_apply(model, words, mask):
    return jax.jit(model.init)(jax.random.key(0), words, mask), jax.jit(model.apply)


def _inputs():
    words = jnp.asarray(np.random.default_rng(0).integers(2, 50, (3, 9)), jnp.int32)
    mask = jnp.ones((3, 9)).at[1, 6:].set(0).at[2, 3:].set(0)
    return words * mask.astype(jnp.int32), mask


@pytest.mark.parametrize("model", MODELS, ids=["tagger", "encdec"])
def test_padding_does_not_change_real_tokens(model):
    words, mask = _inputs()
    params, apply = _init_apply(model, words, mask)
    out = apply(params, words, mask)
    assert out.logits.shape == (3, 9, 5) and out.sentence.shape == (3, 12)
    longer = apply(params, jnp.pad(words, ((0, 0), (0, 7))), jnp.pad(mask, ((0, 0), (0, 7))))
    np.testing.assert_allclose(longer.logits[:, :9] * mask[..., None], out.logits * mask[..., None], atol=1e-5)
    np.testing.assert_allclose(longer.sentence, out.sentence, atol=1e-5)


@pytest.mark.parametrize("model", MODELS, ids=["tagger", "encdec"])
def test_dropout_is_per_example(model):
    """A sentence's dropout depends on its own key only, not on its batch neighbours."""
    words, mask = _inputs()
    params, apply = _init_apply(model, words, mask)
    keys = jax.random.split(jax.random.key(1), 3)
    full = apply(params, words, mask, keys=keys)
    alone = apply(params, words[1:2], mask[1:2], keys=keys[1:2])
    np.testing.assert_allclose(full.logits[1], alone.logits[0], atol=1e-5)
    assert not np.allclose(full.logits, apply(params, words, mask).logits)


def test_greedy_decoding_equals_teacher_forcing_on_its_own_predictions():
    model = MODELS[1]
    words, mask = _inputs()
    params, apply = _init_apply(model, words, mask)
    greedy = apply(params, words, mask)
    forced = apply(params, words, mask, tags=greedy.pred)
    np.testing.assert_allclose(forced.logits * mask[..., None], greedy.logits * mask[..., None], atol=1e-5)
    assert (forced.pred == greedy.pred).all()


def test_char_encoder_ignores_padding_characters():
    enc = CharEncoder(num_chars=20, dim=4, hidden=3)
    chars = jnp.asarray([[[3, 4, 5, 0, 0], [6, 0, 0, 0, 0]]])
    params, apply = jax.jit(enc.init)(jax.random.key(0), chars), jax.jit(enc.apply)
    out = apply(params, chars)
    wider = apply(params, jnp.pad(chars, ((0, 0), (0, 0), (0, 4))))
    assert out.shape == (1, 2, 6)
    np.testing.assert_allclose(out, wider, atol=1e-6)

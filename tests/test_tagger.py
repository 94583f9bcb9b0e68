"""BiLSTM tagger and encoder-decoder: shapes, padding, per-example dropout, teacher forcing, the
character encoder.

Models are run jitted: one compilation per shape instead of one per operation.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tapjax.al import corpora, vocabulary
from tapjax.al.sentence_batches import pad_batch
from tapjax.al.taggers import BiLSTMEncoderDecoder, BiLSTMTagger, CharEncoder
from tapjax.al.vocabulary import Vocabs

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


@pytest.mark.parametrize("kind", [BiLSTMTagger, BiLSTMEncoderDecoder])
def test_char_encoder_joins_the_word_embedding(kind):
    """Shapes with a character encoder: ``[B, T, 2 * 25]`` character states (Lample et al.'s
    sizes) joined to the ``embed_dim`` word embedding, the BiLSTM over both."""
    words, mask = _inputs()
    chars = jnp.asarray(np.random.default_rng(1).integers(0, 30, (3, 9, 6)), jnp.int32)
    char_encoder = CharEncoder(30)
    assert jax.jit(char_encoder.apply)(char_encoder.init(jax.random.key(0), chars), chars).shape == (3, 9, 50)
    model = kind(50, 5, embed_dim=8, hidden=6, num_chars=30)
    params, apply = jax.jit(model.init)(jax.random.key(0), words, mask, chars), jax.jit(model.apply)
    bilstm_in = params["params"]["encoder"]["RNN_0"]["W"]  # [directions, inputs, gates]
    assert bilstm_in.shape[:2] == (2, 8 + 50)
    out = apply(params, words, mask, chars)
    assert out.logits.shape == (3, 9, 5) and out.sentence.shape == (3, 12)


def test_unknown_words_are_told_apart_by_their_spelling():
    """Two test-only words are both ``<unk>``; the character encoder still gives them different
    representations (without it they are the same)."""
    train = corpora.Tagged([["Paris", "is", "big"]], [["B-LOC", "O", "O"]])
    vocabs = Vocabs.build(train, corpora.Tagged([], []), use_chars=True)
    test = vocabs.encode(corpora.Tagged([["Zagreb"], ["Zadar"]], [["B-LOC"], ["B-LOC"]]))
    assert test.words[0].tolist() == test.words[1].tolist() == [vocabulary.UNK]
    batch = pad_batch(test.words, test.chars, None, [0, 1], 1, 2, 20)
    for num_chars, differ in ((len(vocabs.chars), True), (0, False)):
        model = BiLSTMTagger(len(vocabs.words), len(vocabs.tags), embed_dim=8, hidden=6, num_chars=num_chars)
        chars = batch["chars"] if num_chars else None
        inputs = (batch["words"], batch["mask"], chars)
        params = jax.jit(model.init)(jax.random.key(0), *inputs)
        enc = jax.jit(functools.partial(model.apply, method="encode"))(params, *inputs)
        assert enc.shape == (2, 1, 12) and (not np.allclose(enc[0], enc[1])) == differ

"""Sequence taggers (W-BADGE paper §5.2): a BiLSTM tagger and a BiLSTM encoder-decoder.

Both map ``words [B, T]`` (and optionally ``chars [B, T, W]``), ``mask [B, T]`` to a
:class:`TaggerOutput`: the per-token features ``h [B, T, H]`` that feed the last layer,
its logits ``[B, T, C]`` (``logits = h @ W + b``), the predicted tags and the encoder's
sentence representation ``[B, 2 * hidden]`` (masked mean of the BiLSTM states, used by
Core-set). Training feeds the gold tags (``tags``) to the decoder (teacher forcing);
without them the decoder decodes greedily, feeding back its previous prediction.

Dropout is per example: ``keys [B]`` holds one PRNG key per sentence (folded from the
sentence's index by the caller), so a sentence gets the same dropout mask whatever batch
or device it lands on; ``keys=None`` turns dropout off.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from tapjax.nn.rnn import RNN, lstm_step, masked_scan

Array = jax.Array
LAST_LAYER = "out"  # name of the Dense layer whose kernel BADGE differentiates


class TaggerOutput(NamedTuple):
    h: Array  # [B, T, H] features entering the last layer
    logits: Array  # [B, T, C]
    pred: Array  # [B, T] predicted tag ids (greedy)
    sentence: Array  # [B, 2 * hidden] encoder sentence representation


def example_dropout(x: Array, keys: Optional[Array], rate: float, site: int) -> Array:
    """Inverted dropout with one key per example (``x [B, ...]``, ``keys [B]``)."""
    if keys is None or rate == 0.0:
        return x

    def one(k, xi):
        keep = jax.random.bernoulli(jax.random.fold_in(k, site), 1.0 - rate, xi.shape)
        return jnp.where(keep, xi / (1.0 - rate), 0.0)

    return jax.vmap(one)(keys, x)


class CharEncoder(nn.Module):
    """A word's characters -> the last states of a character BiLSTM ``[B, T, 2 * hidden]``."""

    num_chars: int
    dim: int = 25
    hidden: int = 25

    @nn.compact
    def __call__(self, chars: Array) -> Array:
        B, T, W = chars.shape
        flat = chars.reshape(B * T, W)
        cmask = (flat > 0).astype(jnp.float32)
        hs = RNN(self.hidden, "lstm", bidirectional=True)(nn.Embed(self.num_chars, self.dim)(flat), cmask)
        last = jnp.maximum(cmask.sum(-1).astype(jnp.int32) - 1, 0)
        fwd = jnp.take_along_axis(hs[..., : self.hidden], last[:, None, None], axis=1)[:, 0]
        return jnp.concatenate([fwd, hs[:, 0, self.hidden :]], -1).reshape(B, T, 2 * self.hidden)


class Encoder(nn.Module):
    """Word (+ char) embeddings -> dropout -> BiLSTM -> ``[B, T, 2 * hidden]``."""

    vocab_size: int
    embed_dim: int = 400
    hidden: int = 200
    num_chars: int = 0  # 0: no character encoder
    dropout: float = 0.5

    @nn.compact
    def __call__(self, words, mask, chars=None, keys=None):
        x = nn.Embed(self.vocab_size, self.embed_dim, name="embed")(words)
        if self.num_chars:
            x = jnp.concatenate([x, CharEncoder(self.num_chars)(chars)], -1)
        x = example_dropout(x, keys, self.dropout, site=0)
        return RNN(self.hidden, "lstm", bidirectional=True)(x, mask)


def _sentence(enc: Array, mask: Array) -> Array:
    return (enc * mask[..., None]).sum(1) / jnp.maximum(mask.sum(1, keepdims=True), 1.0)


class BiLSTMTagger(nn.Module):
    """BiLSTM with a softmax per token over the ``2 * hidden`` BiLSTM features."""

    vocab_size: int
    num_tags: int
    embed_dim: int = 400
    hidden: int = 200
    num_chars: int = 0
    dropout: float = 0.5

    @nn.compact
    def __call__(self, words, mask, chars=None, keys=None, tags=None) -> TaggerOutput:
        del tags  # the tagger's predictions do not depend on previous tags
        enc = Encoder(self.vocab_size, self.embed_dim, self.hidden, self.num_chars, self.dropout)(
            words, mask, chars, keys)
        h = example_dropout(enc, keys, self.dropout, site=1)
        logits = nn.Dense(self.num_tags, name=LAST_LAYER)(h)
        return TaggerOutput(h, logits, jnp.argmax(logits, -1), _sentence(enc, mask))


class BiLSTMEncoderDecoder(nn.Module):
    """BiLSTM encoder, LSTM decoder (``decoder`` units) fed ``[enc_t, embed(previous tag)]``.

    With ``tags`` the previous gold tag is fed (teacher forcing, one scan with the input
    projection hoisted); without, the previous greedy prediction. Tag id ``num_tags`` is
    the start symbol.
    """

    vocab_size: int
    num_tags: int
    embed_dim: int = 400
    hidden: int = 200
    decoder: int = 100
    tag_dim: int = 32
    num_chars: int = 0
    dropout: float = 0.5

    @nn.compact
    def __call__(self, words, mask, chars=None, keys=None, tags=None) -> TaggerOutput:
        enc = Encoder(self.vocab_size, self.embed_dim, self.hidden, self.num_chars, self.dropout)(
            words, mask, chars, keys)
        enc_in = example_dropout(enc, keys, self.dropout, site=1)
        H, G = self.decoder, 4 * self.decoder
        W = self.param("W", nn.initializers.lecun_normal(), (enc.shape[-1], G))
        b = self.param("b", nn.initializers.zeros, (G,))
        U = self.param("U", nn.initializers.orthogonal(), (H, G))
        tag_embed = nn.Embed(self.num_tags + 1, self.tag_dim, name="tag_embed").embedding
        tag_proj = tag_embed @ self.param("W_tag", nn.initializers.lecun_normal(), (self.tag_dim, G))
        out = nn.Dense(self.num_tags, name=LAST_LAYER)
        out(jnp.zeros((1, H)))  # creates the layer's parameters outside the decoding scan
        xp = jnp.einsum("btk,kg->tbg", enc_in, W) + b  # [T, B, G]
        B = words.shape[0]
        zeros = jnp.zeros_like(xp[0, :, :H])  # like xp: varies over the mesh axes inside shard_map
        carry = (zeros, zeros)
        m = mask.T
        if tags is not None:
            prev = jnp.concatenate([jnp.full((B, 1), self.num_tags), tags[:, :-1]], 1).T
            _, hs = masked_scan(lstm_step, U, carry, xp + tag_proj[prev], m)
            hs = jnp.transpose(hs, (1, 0, 2))
            h = example_dropout(hs, keys, self.dropout, site=2)
            logits = out(h)
            return TaggerOutput(h, logits, jnp.argmax(logits, -1), _sentence(enc, mask))

        site_keys = None if keys is None else jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)

        def step(state, inputs):
            (c, h_prev), prev = state
            xp_t, m_t, t = inputs
            (c_new, h_new), _ = lstm_step(U, (c, h_prev), xp_t + tag_proj[prev])
            keep = m_t[:, None] > 0
            c, h_t = jnp.where(keep, c_new, c), jnp.where(keep, h_new, h_prev)
            h_out = jnp.where(keep, h_new, 0.0)
            step_keys = None if site_keys is None else jax.vmap(lambda k: jax.random.fold_in(k, t))(site_keys)
            h_drop = example_dropout(h_out, step_keys, self.dropout, site=0)
            logits = out(h_drop)
            return ((c, h_t), jnp.argmax(logits, -1)), (h_drop, logits)

        init = (carry, jnp.zeros_like(words[:, 0]) + self.num_tags)
        _, (hs, logits) = jax.lax.scan(step, init, (xp, m, jnp.arange(xp.shape[0])))
        h, logits = jnp.transpose(hs, (1, 0, 2)), jnp.transpose(logits, (1, 0, 2))
        return TaggerOutput(h, logits, jnp.argmax(logits, -1), _sentence(enc, mask))


def make_model(kind: str, vocab_size: int, num_tags: int, num_chars: int, cfg) -> nn.Module:
    """``kind`` = "tagger" (BiLSTM-softmax) or "encdec" (BiLSTM encoder-decoder); ``cfg``: sizes."""
    common = dict(vocab_size=vocab_size, num_tags=num_tags, embed_dim=cfg.embed_dim, hidden=cfg.hidden,
                  num_chars=num_chars, dropout=cfg.dropout)
    if kind == "tagger":
        return BiLSTMTagger(**common)
    if kind == "encdec":
        return BiLSTMEncoderDecoder(decoder=cfg.decoder, **common)
    raise ValueError(f"unknown model {kind!r}; expected 'tagger' or 'encdec'")

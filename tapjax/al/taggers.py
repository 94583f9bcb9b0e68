"""Sequence taggers (W-BADGE paper §5.2): a BiLSTM tagger and a BiLSTM encoder-decoder.

Both map ``words [B, T]`` (optionally ``chars [B, T, W]``) and ``mask [B, T]`` to a
:class:`TaggerOutput`: the last layer's input features ``h [B, T, H]``, its logits
``h @ W + b``, the predicted tags and the sentence representation ``[B, 2 * hidden]`` (masked
mean of the BiLSTM states, Core-set's space). The decoder is teacher-forced when given ``tags``
and greedy otherwise. Dropout is per example (``keys [B]``, one key per sentence, folded from its
index), so a sentence gets the same mask in any batch or device; ``keys=None`` turns it off.
``model(...)`` is ``decode(encode(...))``; calling them apart lets MC-dropout BALD run the encoder
once and only the decoder per pass.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from tapjax.common.rnn import RNN, lstm_step, masked_scan

Array = jax.Array
LAST_LAYER = "out"  # name of the Dense layer whose kernel BADGE differentiates


class TaggerOutput(NamedTuple):
    h: Array  # [B, T, H] features entering the last layer
    logits: Array  # [B, T, C]
    pred: Array  # [B, T] predicted tag ids (greedy)
    sentence: Array  # [B, 2 * hidden] encoder sentence representation


def example_dropout(x: Array, keys: Optional[Array], rate: float, site: int) -> Array:
    """Inverted dropout with one key per example (``x [B, ...]``, ``keys [B]``).

    An element is kept when its random byte is below ``round(256 (1 − rate))``: four masks
    per 32 random bits, as generating the bits is most of the cost of MC-dropout passes.
    The keep probability is thus rounded to a multiple of 1/256 (exact for rate 0.5) and
    kept values are scaled by its inverse.
    """
    if keys is None or rate == 0.0:
        return x
    threshold = round(256 * (1.0 - rate))
    if threshold < 1:
        raise ValueError(f"dropout rate {rate} keeps less than 1/256 of the values")

    def one(k, xi):
        words = jax.random.bits(jax.random.fold_in(k, site), (-(-xi.size // 4),), jnp.uint32)
        byte = jax.lax.bitcast_convert_type(words, jnp.uint8).reshape(-1)[: xi.size].reshape(xi.shape)
        return jnp.where(byte < threshold, xi * (256 / threshold), 0.0)

    return jax.vmap(one)(keys, x)


class CharEncoder(nn.Module):
    """A word's characters -> the last states of a character BiLSTM ``[B, T, 2 * hidden]``.

    Lample et al. (2016) §4.1: the final states of a forward and a backward LSTM over the
    character embeddings, joined to the word's embedding, so a word without a trained (or
    any) embedding row is still told apart by its spelling. Their sizes (25-dim characters,
    25 units a direction) are the defaults: the W-BADGE paper names no character encoder.
    """

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
    """Word embeddings (joined by the :class:`CharEncoder` states with ``num_chars``) -> dropout ->
    BiLSTM -> ``[B, T, 2 * hidden]``."""

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


class _BiLSTMEncoded(nn.Module):
    """What both taggers share: the fields of the :class:`Encoder`, ``encode`` and ``decode(encode(...))``."""

    vocab_size: int
    num_tags: int
    embed_dim: int = 400
    hidden: int = 200
    num_chars: int = 0
    dropout: float = 0.5

    def make_encoder(self) -> Encoder:
        return Encoder(self.vocab_size, self.embed_dim, self.hidden, self.num_chars, self.dropout)

    def __call__(self, words, mask, chars=None, keys=None, tags=None) -> TaggerOutput:
        return self.decode(self.encode(words, mask, chars, keys), mask, keys, tags)

    def encode(self, words, mask, chars=None, keys=None) -> Array:
        """The BiLSTM states ``[B, T, 2 * hidden]`` (dropout on the embeddings with ``keys``)."""
        return self.encoder(words, mask, chars, keys)


class BiLSTMTagger(_BiLSTMEncoded):
    """BiLSTM with a softmax per token over the ``2 * hidden`` BiLSTM features."""

    def setup(self):
        self.encoder = self.make_encoder()
        self.out = nn.Dense(self.num_tags)  # LAST_LAYER

    def decode(self, enc, mask, keys=None, tags=None) -> TaggerOutput:
        """Dropout on the BiLSTM states (with ``keys``), then the per-token softmax layer."""
        del tags  # the tagger's predictions do not depend on previous tags
        h = example_dropout(enc, keys, self.dropout, site=1)
        logits = self.out(h)
        return TaggerOutput(h, logits, jnp.argmax(logits, -1), _sentence(enc, mask))


class BiLSTMEncoderDecoder(_BiLSTMEncoded):
    """BiLSTM encoder, LSTM decoder (``decoder`` units) fed ``[enc_t, embed(previous tag)]``.

    With ``tags`` the previous gold tag is fed (teacher forcing, one scan with the input
    projection hoisted); without, the previous greedy prediction. Tag id ``num_tags`` is
    the start symbol.
    """

    decoder: int = 100
    tag_dim: int = 32

    def setup(self):
        G = 4 * self.decoder
        self.encoder = self.make_encoder()
        self.W = self.param("W", nn.initializers.lecun_normal(), (2 * self.hidden, G))
        self.b = self.param("b", nn.initializers.zeros, (G,))
        self.U = self.param("U", nn.initializers.orthogonal(), (self.decoder, G))
        self.tag_embed = nn.Embed(self.num_tags + 1, self.tag_dim)
        self.W_tag = self.param("W_tag", nn.initializers.lecun_normal(), (self.tag_dim, G))
        self.out = nn.Dense(self.num_tags)  # LAST_LAYER

    def decode(self, enc, mask, keys=None, tags=None) -> TaggerOutput:
        """The LSTM decoder over the encoder states (dropout on its inputs and outputs with ``keys``)."""
        enc_in = example_dropout(enc, keys, self.dropout, site=1)
        H = self.decoder
        tag_proj = self.tag_embed.embedding @ self.W_tag
        self.out(jnp.zeros((1, H)))  # creates the layer's parameters outside the decoding scan
        xp = jnp.einsum("btk,kg->tbg", enc_in, self.W) + self.b  # [T, B, G]
        B = enc.shape[0]
        zeros = jnp.zeros_like(xp[0, :, :H])  # like xp: varies over the mesh axes inside shard_map
        carry = (zeros, zeros)
        m = mask.T
        if tags is not None:
            prev = jnp.concatenate([jnp.full((B, 1), self.num_tags), tags[:, :-1]], 1).T
            _, hs = masked_scan(lstm_step, self.U, carry, xp + tag_proj[prev], m)
            hs = jnp.transpose(hs, (1, 0, 2))
            h = example_dropout(hs, keys, self.dropout, site=2)
            logits = self.out(h)
            return TaggerOutput(h, logits, jnp.argmax(logits, -1), _sentence(enc, mask))

        site_keys = None if keys is None else jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)

        def step(state, inputs):
            (c, h_prev), prev = state
            xp_t, m_t, t = inputs
            (c_new, h_new), _ = lstm_step(self.U, (c, h_prev), xp_t + tag_proj[prev])
            keep = m_t[:, None] > 0
            c, h_t = jnp.where(keep, c_new, c), jnp.where(keep, h_new, h_prev)
            h_out = jnp.where(keep, h_new, 0.0)
            step_keys = None if site_keys is None else jax.vmap(lambda k: jax.random.fold_in(k, t))(site_keys)
            h_drop = example_dropout(h_out, step_keys, self.dropout, site=0)
            logits = self.out(h_drop)
            return ((c, h_t), jnp.argmax(logits, -1)), (h_drop, logits)

        init = (carry, jnp.zeros_like(mask[:, 0], jnp.int32) + self.num_tags)  # varies like the batch
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

"""WAP ("Watch, Attend and Parse", Zhang et al., Pattern Recognition 71, 2017) as a decoding family.

TAP's best systems (Table III) add to TAP this offline recogniser, which reads an image of the
expression (:mod:`tapjax.tap.ink.render`), mixing their symbol probabilities at every step (Eq. 33,
:class:`tapjax.common.family.Mixture`). WAP is TAP with the tracker replaced by a watcher and
without the temporal attention and the guider:

- the watcher (:class:`tapjax.tap.nets.watcher.Watcher`, a VGG-style FCN) turns the image into an
  annotation grid, flattened to ``A [B, L = H' W', D]`` with its mask (TAP's Eq. 10);
- the parser is TAP's (:class:`tapjax.tap.nets.parser.Parser`, Eqs. 11-16: two GRUs around the
  attention, maxout output, ``s_0`` from the mean annotation), as the authors' WAP code has it
  (``gru_cond_layer``: the attention reads the first GRU's ``ŝ_t``; the same readout);
- the attention is TAP's spatial attention with coverage (Eqs. 17-21) over the grid's cells,
  ``c_t = ĉ_t`` (Eq. 19, no temporal attention), except that the coverage is a 2-D convolution
  over the attention history laid out as the grid (WAP's coverage model; TAP's Eq. 20 with a
  2-D ``Q``)::

      F = Q * sum_{l<t} alpha_l    (alpha_l as an H' x W' map, Q: q filters of k x k)    (TAP 20)
      e_ti = nu_att^T tanh(W_att ŝ_t + U_att a_i + U_f f_i)                             (TAP 21)

  :class:`GridCoverageAttention` adds only that convolution to TAP's
  :class:`~tapjax.tap.nets.attention.SpatialAttention`; the authors' code convolves with 128 filters
  of 5 x 5 (``VGG/train_nmt.py``: ``dim_coverage``, ``kernel_coverage``).

Training is Eq. 29 without its guider term: the summed cross-entropy of each caption.

The family's input is an image batch laid out column by column, the width being the sequence
axis of the :class:`~tapjax.common.family.Family` interface: ``images [B, W, H]`` (the images of
:func:`tapjax.tap.ink.render.batch_images` transposed, :func:`columns`), ``image_mask [B, W]`` (1 on
each image's own columns; every image of a batch has the model's ``image_height`` rows). The beam
search and the sharded decoding then take images as they take TAP's points (``features [B, N, F]``,
``feature_mask [B, N]``). Padding changes no real cell (:mod:`tapjax.tap.nets.watcher`), so a batch may be
padded to any width; a multiple of :attr:`WAP.stride` wastes no cell.

The family's ``params`` are the network's variables, ``{"params": ...}`` plus, with batch
normalisation, ``{"batch_stats": ...}``: the running averages decoding normalises with
(:class:`~tapjax.tap.nets.watcher.MaskedBatchNorm`). :meth:`WAP.train_forward` normalises with the
batch's statistics instead and returns the variables with the running averages updated, as
the authors' training step does.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from tapjax.tap.nets import watcher
from tapjax.tap.nets.attention import SpatialAttention, masked_softmax
from tapjax.tap.nets.parser import Parser
from tapjax.tap.nets.watcher import Watcher

Array = jax.Array
FAMILY = "wap"  # the value of a config's model.family that builds this model


@dataclasses.dataclass(frozen=True)
class WAPConfig:
    """The model's sizes and switches, made from the config's ``model`` block (:meth:`from_config`;
    the values are written in ``experiments/configs/wap.py`` only).

    ``image_height``: the rows of every input image (``render.Settings.height``); ``watcher_filters``
    / ``watcher_layers``: the filters and the convolutions of each watcher block (one block per
    entry, each halving the image); ``batch_norm``: batch normalisation after every convolution;
    ``coverage``: the coverage model, a ``coverage_kernel x coverage_kernel`` convolution with
    ``coverage_filters`` filters; the parser's sizes as in :class:`tapjax.tap.nets.model.TAPConfig`.
    """

    vocab_size: int
    image_height: int
    watcher_filters: tuple[int, ...]
    watcher_layers: tuple[int, ...]
    batch_norm: bool
    embed_dim: int
    parser_hidden: int
    attention_dim: int
    coverage: bool
    coverage_kernel: int
    coverage_filters: int
    maxout_dim: int

    def __post_init__(self):
        if not self.watcher_filters or len(self.watcher_filters) != len(self.watcher_layers):
            raise ValueError(f"model config: need one watcher_layers entry per watcher_filters entry (at least one "
                             f"block), got {self.watcher_filters} and {self.watcher_layers}")
        if min(self.watcher_layers) < 1 or min(self.watcher_filters) < 1 or self.image_height < 1:
            raise ValueError(f"model config: watcher_filters, watcher_layers and image_height must be >= 1, got "
                             f"{self.watcher_filters}, {self.watcher_layers} and {self.image_height}")

    @property
    def temporal(self) -> bool:
        """Always False: WAP has no temporal attention (read by the shared parser)."""
        return False

    @classmethod
    def from_config(cls, model: Mapping[str, Any], **overrides) -> "WAPConfig":
        """From a config's ``model`` block (a ConfigDict or dict), by keyword; ``overrides`` replace
        fields. The block's ``family``, if there, must be ``"wap"``; an unknown or missing field is a
        ``ValueError`` naming it."""
        values = {**dict(model), **overrides}
        family = values.pop("family", FAMILY)
        if family != FAMILY:
            raise ValueError(f"model config: family is {family!r}, not {FAMILY!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown, missing = sorted(values.keys() - names), sorted(names - values.keys())
        if unknown or missing:
            raise ValueError(f"model config: unknown fields {unknown}, missing fields {missing}")
        tuples = {k: tuple(values[k]) for k in ("watcher_filters", "watcher_layers")}
        return cls(**{**values, **tuples})


def grid_coverage_features(alpha_sum: Array, kernel: Array, grid_height: int) -> Array:
    """``F = Q * sum_l alpha_l`` over the grid (TAP's Eq. 20 with a 2-D ``Q``, as WAP):
    ``alpha_sum [B, L]`` (cells row by row, ``grid_height`` rows), ``kernel [k * k, C]`` (the taps
    row by row) -> ``[B, L, C]``.

    A 'same'-padded 2-D cross-correlation with one input channel: cells past the grid's edge count
    as zero attention, exactly like padded cells, so padding does not change real cells.
    """
    B, L = alpha_sum.shape
    side = math.isqrt(kernel.shape[0])
    if L % grid_height or side * side != kernel.shape[0]:
        raise ValueError(f"grid coverage: {L} cells are not rows of {grid_height}, or {kernel.shape[0]} taps "
                         "are not a square kernel")
    grid = alpha_sum.reshape(B, grid_height, L // grid_height, 1)
    F = jax.lax.conv_general_dilated(grid, kernel.reshape(side, side, 1, -1), (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return F.reshape(B, L, -1)


class GridCoverageAttention(SpatialAttention):
    """TAP's spatial attention with coverage (Eqs. 17-21) over a flattened annotation grid of
    ``grid_height`` rows, its coverage a 2-D convolution (:func:`grid_coverage_features`).

    ``kernel_width`` is the number of taps ``k * k`` of the square kernel: TAP's ``Q [kernel_width,
    filters]`` holds them row by row, so the parameters are :class:`SpatialAttention`'s.
    """

    grid_height: int

    def __call__(self, keys: Array, A: Array, mask: Array, query: Array, alpha_sum: Array):
        """Returns ``(alpha [B, L], energies e_t [B, L], ĉ_t [B, D])`` for ``query = W_att ŝ_t``."""
        pre = keys + query[:, None, :]
        if self.coverage:
            pre = pre + grid_coverage_features(alpha_sum, self.Q @ self.U_f, self.grid_height)  # one linear map
        energies = self.nu_att(jnp.tanh(pre))[..., 0]
        alpha = masked_softmax(energies, mask)
        return alpha, energies, jnp.einsum("bl,bld->bd", alpha, A)


class WAPParser(Parser):
    """TAP's parser (Eqs. 11-16) attending with :class:`GridCoverageAttention`: only the spatial
    attention is its own, every submodule else and every step is :class:`Parser`'s."""

    def spatial_attention(self) -> nn.Module:
        c = self.config
        return GridCoverageAttention(
            dim=c.attention_dim, coverage=c.coverage, kernel_width=c.coverage_kernel ** 2,
            filters=c.coverage_filters, grid_height=watcher.pooled_size(c.image_height, len(c.watcher_filters)),
            name="spatial")


class WAPNet(nn.Module):
    """Flax module holding the watcher and parser variables; methods mirror :class:`WAP`."""

    config: WAPConfig

    def setup(self):
        c = self.config
        self.watcher = Watcher(filters=c.watcher_filters, layers=c.watcher_layers, batch_norm=c.batch_norm)
        self.parser = WAPParser(config=c)

    def encode(self, images, image_mask, train: bool = False, axis_name: str | None = None):
        return self.parser.precompute(*self.watcher(images, image_mask, train, axis_name))

    def init_state(self, enc):
        return self.parser.initial_state(enc)

    def step(self, enc, state, prev_tokens):
        return self.parser.step(enc, state, prev_tokens)

    def init_all(self, images, image_mask):
        enc = self.encode(images, image_mask)
        return self.step(enc, self.init_state(enc), -jnp.ones(images.shape[:1], jnp.int32))


def columns(images: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tapjax.tap.ink.render.batch_images`' ``(images [B, H, W], mask [B, H, W])`` as WAP's input:
    ``(images [B, W, H], column mask [B, W])``. A mask that differs between rows of an image (not
    a batch of one height padded on the right) is a ``ValueError``."""
    images, mask = np.asarray(images, np.float32), np.asarray(mask, np.float32)
    if images.ndim != 3 or mask.shape != images.shape:
        raise ValueError(f"columns: expected images [B, H, W] and a mask of the same shape, got "
                         f"{images.shape} and {mask.shape}")
    if np.any(mask != mask[:, :1, :]):
        raise ValueError("columns: the mask differs between rows of an image; WAP's input pads the width only")
    return np.ascontiguousarray(images.transpose(0, 2, 1)), mask[:, 0, :]


@dataclasses.dataclass(frozen=True)
class WAP:
    """Watch, Attend and Parse as a decoding family (hashable, so usable as a static jit argument)."""

    config: WAPConfig

    @classmethod
    def from_config(cls, model: Mapping[str, Any]) -> "WAP":
        """The model of a config's ``model`` block (see :meth:`WAPConfig.from_config`)."""
        return cls(WAPConfig.from_config(model))

    @property
    def net(self) -> WAPNet:
        return WAPNet(self.config)

    @property
    def stride(self) -> int:
        """Image columns (and rows) per annotation cell: 16 for WAP's 4 watcher blocks."""
        return watcher.stride(len(self.config.watcher_filters))

    @property
    def grid_height(self) -> int:
        """Rows ``H'`` of the annotation grid (``alpha``'s ``L`` cells are ``H'`` rows of ``L / H'``)."""
        return watcher.pooled_size(self.config.image_height, len(self.config.watcher_filters))

    def init(self, rng: Array) -> dict:
        """Fresh variables: ``{"params"[, "batch_stats"]}`` (running averages 0 and 1)."""
        images = jnp.zeros((1, 2 * self.stride, self.config.image_height))
        init = jax.jit(functools.partial(self.net.init, method=WAPNet.init_all))  # one program: faster than op by op
        return dict(init(rng, *self._grid_input(images, jnp.ones(images.shape[:2]))))

    def _grid_input(self, images: Array, image_mask: Array) -> tuple[Array, Array]:
        """The column layout ``[B, W, H]`` / ``[B, W]`` back to the watcher's ``[B, H, W]`` / ``[B, H, W]``."""
        if images.ndim != 3 or image_mask.shape != images.shape[:2] or images.shape[2] != self.config.image_height:
            raise ValueError(f"WAP: expected images [B, W, H={self.config.image_height}] (columns of "
                             f"render.batch_images) and image_mask [B, W], got {images.shape} and {image_mask.shape}")
        grid = jnp.swapaxes(images, 1, 2)
        return grid, jnp.broadcast_to(image_mask[:, None, :], grid.shape)

    def encode(self, params, images: Array, image_mask: Array) -> dict:
        """``images [B, W, H]``, ``image_mask [B, W]`` -> ``{"A" [B,L,D], "mask" [B,L], "keys"}``
        (batch normalisation by the running averages)."""
        return self.net.apply(params, *self._grid_input(images, image_mask), method=WAPNet.encode)

    def init_state(self, params, enc) -> dict:
        """``{"s", "alpha", "alpha_sum"}`` before the first symbol."""
        return self.net.apply(params, enc, method=WAPNet.init_state)

    def step(self, params, enc, state, prev_tokens):
        """``prev_tokens int32 [B]`` (-1: none) -> ``(log_probs [B, V], state)``."""
        return self.net.apply(params, enc, state, prev_tokens, method=WAPNet.step)

    def teacher_forced(self, params, images: Array, image_mask: Array, tokens: Array):
        """Runs :meth:`step` over the ground-truth caption ``tokens [B, T]``, batch normalisation by
        the running averages. Returns ``(log_probs [B, T, V], alpha [B, T, L], annotation mask [B, L])``."""
        enc = self.encode(params, images, image_mask)
        return (*self._forced(params, enc, tokens), enc["mask"])

    def train_forward(self, params, images: Array, image_mask: Array, tokens: Array, axis_name: str | None = None):
        """:meth:`teacher_forced` as in training: batch normalisation by the batch's statistics (over
        the devices of ``axis_name`` inside ``shard_map``). Returns ``((log_probs, alpha, annotation
        mask), variables)``, the variables ``params`` with their running averages updated by this batch
        (``params`` itself without batch normalisation)."""
        grid = self._grid_input(images, image_mask)
        enc, updated = self.net.apply(params, *grid, True, axis_name, method=WAPNet.encode, mutable=["batch_stats"])
        return (*self._forced(params, enc, tokens), enc["mask"]), {**params, **updated}

    def _forced(self, params, enc: dict, tokens: Array) -> tuple[Array, Array]:
        """``(log_probs [B, T, V], alpha [B, T, L])`` of :meth:`step` run over ``tokens [B, T]``."""
        prev = jnp.concatenate([-jnp.ones_like(tokens[:, :1]), tokens[:, :-1]], axis=1)

        def body(state, prev_t):
            log_probs, state = self.step(params, enc, state, prev_t)
            return state, (log_probs, state["alpha"])

        _, (log_probs, alpha) = jax.lax.scan(body, self.init_state(params, enc), prev.T)
        return jnp.swapaxes(log_probs, 0, 1), jnp.swapaxes(alpha, 0, 1)

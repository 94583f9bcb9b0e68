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
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from tapjax.tap.nets import watcher
from tapjax.tap.nets.attention import SpatialAttention, masked_softmax
from tapjax.tap.nets.flax_family import FamilyNet, FlaxFamily
from tapjax.tap.nets.model_config import WAPConfig
from tapjax.tap.nets.parser import Parser
from tapjax.tap.nets.watcher import Watcher

Array = jax.Array


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


class WAPNet(FamilyNet):
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
class WAP(FlaxFamily):
    """Watch, Attend and Parse as a decoding family: ``encode`` maps ``images [B, W, H]``, ``image_mask
    [B, W]`` to ``{"A" [B,L,D], "mask" [B,L], "keys"}`` (batch normalisation by the running averages),
    the state is ``{"s", "alpha", "alpha_sum"}``; ``params`` are the network's variables."""

    config: WAPConfig
    Net, Config = WAPNet, WAPConfig

    @property
    def stride(self) -> int:
        """Image columns (and rows) per annotation cell: 16 for WAP's 4 watcher blocks."""
        return watcher.stride(len(self.config.watcher_filters))

    @property
    def grid_height(self) -> int:
        """Rows ``H'`` of the annotation grid (``alpha``'s ``L`` cells are ``H'`` rows of ``L / H'``)."""
        return watcher.pooled_size(self.config.image_height, len(self.config.watcher_filters))

    def example_input(self) -> tuple[Array, Array]:
        images = jnp.zeros((1, 2 * self.stride, self.config.image_height))
        return images, jnp.ones(images.shape[:2])

    def variables(self, params) -> dict:
        """``params`` are the variables: ``{"params"[, "batch_stats"]}``."""
        return params

    def params_of(self, variables: dict) -> dict:
        """All the variables (fresh: running averages 0 and 1)."""
        return dict(variables)

    def net_input(self, images: Array, image_mask: Array) -> tuple[Array, Array]:
        """The column layout ``[B, W, H]`` / ``[B, W]`` back to the watcher's ``[B, H, W]`` / ``[B, H, W]``."""
        if images.ndim != 3 or image_mask.shape != images.shape[:2] or images.shape[2] != self.config.image_height:
            raise ValueError(f"WAP: expected images [B, W, H={self.config.image_height}] (columns of "
                             f"render.batch_images) and image_mask [B, W], got {images.shape} and {image_mask.shape}")
        grid = jnp.swapaxes(images, 1, 2)
        return grid, jnp.broadcast_to(image_mask[:, None, :], grid.shape)

    def teacher_forced(self, params, images: Array, image_mask: Array, tokens: Array):
        """Runs :meth:`step` over the ground-truth caption ``tokens [B, T]``, batch normalisation by
        the running averages. Returns ``(log_probs [B, T, V], alpha [B, T, L], annotation mask [B, L])``."""
        enc = self.encode(params, images, image_mask)
        return (*self.forced(params, enc, tokens), enc["mask"])

    def train_forward(self, params, images: Array, image_mask: Array, tokens: Array, axis_name: str | None = None):
        """:meth:`teacher_forced` as in training: batch normalisation by the batch's statistics (over
        the devices of ``axis_name`` inside ``shard_map``). Returns ``((log_probs, alpha, annotation
        mask), variables)``, the variables ``params`` with their running averages updated by this batch
        (``params`` itself without batch normalisation)."""
        grid = self.net_input(images, image_mask)
        enc, updated = self.net.apply(params, *grid, True, axis_name, method=WAPNet.encode, mutable=["batch_stats"])
        return (*self.forced(params, enc, tokens), enc["mask"]), {**params, **updated}

"""WAP's watcher: a fully convolutional, VGG-style encoder of the expression's image.

WAP ("Watch, Attend and Parse", Zhang et al., Pattern Recognition 71, 2017), the offline
recogniser TAP combines with itself in Eq. 33 (Table III), reads a grey image with a fully
convolutional network whose last feature map is the annotation grid the parser attends to,
flattened to ``A [B, L = H' W', D]`` (as TAP's Eq. 10): blocks of ``3 x 3`` convolutions (stride
1, 'same' zero padding), each followed by batch normalisation and a ReLU, a ``2 x 2`` max-pooling
closing each block. Sizes as the authors' released code (github.com/JianshuZhang/WAP,
``VGG/nmt.py``, ``VGG/train_nmt.py`` at commit 57d8f19): 4 blocks of 4 convolutions with 32, 64,
64 and 128 filters, so the image is downsampled by 16 and ``D = 128``. Like that code: batch
normalisation after every (bias-free) convolution, epsilon 1e-4, running averages updated with
factor 0.1 (:data:`BN_MOMENTUM` 0.9), the running variance unbiased; odd sizes pooled up
(``ceil(H / 2)``), the mask pooled by max (a cell is real if any of its pixels is).

Unlike it, padding stays out of the statistics and the features: batch statistics are over real
pixels only (their unused ``my_BatchNormalization_mask``) and each layer's output is zeroed on
padding, so an expression decodes the same in any batch. Their dropout (0.2 on three of the last
block's convolutions) is left out.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
BN_EPSILON = 1e-4  # the authors' dnn_batch_normalization_train(..., epsilon=0.0001)
BN_MOMENTUM = 0.9  # running average = 0.9 old + 0.1 batch (Theano's running_average_factor 0.1)


def stride(blocks: int) -> int:
    """Image pixels per annotation cell along each axis: ``2 ** blocks`` (16 for WAP's 4 blocks)."""
    return 2 ** blocks


def pooled_size(size: int, blocks: int) -> int:
    """Rows (or columns) of the annotation grid of an image ``size`` pixels high (or wide):
    halved, rounding up, once per block."""
    for _ in range(blocks):
        size = -(-size // 2)
    return size


class MaskedBatchNorm(nn.Module):
    """Batch normalisation over the real pixels of ``x [B, H, W, C]`` (``mask [B, H, W]``).

    ``train``: normalised by the batch's mean and (biased) variance over the real pixels of
    every image (summed over the devices of ``axis_name`` inside ``shard_map``, so the statistics
    are the global batch's), and, when the ``batch_stats`` collection is mutable, the running
    averages moved towards them by ``1 - BN_MOMENTUM`` (the variance unbiased, ``n / (n - 1)``).
    Otherwise normalised by the running averages. Then scaled by ``scale`` and shifted by ``bias``.
    """

    @nn.compact
    def __call__(self, x: Array, mask: Array, train: bool, axis_name: str | None = None) -> Array:
        channels = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (channels,))
        bias = self.param("bias", nn.initializers.zeros, (channels,))
        running_mean = self.variable("batch_stats", "mean", jnp.zeros, (channels,))
        running_var = self.variable("batch_stats", "var", jnp.ones, (channels,))
        if train:
            mean, var, count = _masked_moments(x, mask, axis_name)
            if self.is_mutable_collection("batch_stats") and not self.is_initializing():
                unbiased = var * count / jnp.maximum(count - 1.0, 1.0)
                for running, batch in ((running_mean, mean), (running_var, unbiased)):
                    running.value = BN_MOMENTUM * running.value + (1 - BN_MOMENTUM) * jax.lax.stop_gradient(batch)
        else:
            mean, var = running_mean.value, running_var.value
        return (x - mean) * (scale * jax.lax.rsqrt(var + BN_EPSILON)) + bias


def _masked_moments(x: Array, mask: Array, axis_name: str | None) -> tuple[Array, Array, Array]:
    """Per-channel mean and biased variance of ``x [B, H, W, C]`` over the pixels where ``mask``
    is 1, and their count (each summed over ``axis_name`` when given)."""
    total = (lambda v: jax.lax.psum(v, axis_name)) if axis_name else (lambda v: v)
    weights = mask[..., None]
    count = total(mask.sum())
    mean = total((x * weights).sum(axis=(0, 1, 2))) / jnp.maximum(count, 1.0)
    var = total((jnp.square(x - mean) * weights).sum(axis=(0, 1, 2))) / jnp.maximum(count, 1.0)
    return mean, var, count


def max_pool(x: Array) -> Array:
    """``2 x 2`` max-pooling with stride 2 of ``x [B, H, W, C]``, odd sizes rounded up (the last
    row or column pooled alone): ``[B, ceil(H/2), ceil(W/2), C]``."""
    return nn.max_pool(x, (2, 2), strides=(2, 2), padding=((0, x.shape[1] % 2), (0, x.shape[2] % 2)))


class Watcher(nn.Module):
    """The FCN watcher: ``len(filters)`` blocks, block ``i`` of ``layers[i]`` ``3 x 3`` convolutions
    with ``filters[i]`` filters, each followed by batch normalisation (``batch_norm``; else the
    convolution has a bias) and a ReLU, then a ``2 x 2`` max-pooling (module docstring)."""

    filters: Sequence[int]
    layers: Sequence[int]
    batch_norm: bool

    @nn.compact
    def __call__(self, images: Array, image_mask: Array, train: bool = False,
                 axis_name: str | None = None) -> tuple[Array, Array]:
        """``images [B, H, W]`` (ink 1, background and padding 0), ``image_mask [B, H, W]`` (1 on each
        image's own pixels) -> ``(A [B, L, D], mask [B, L])``: the annotation grid ``[B, H', W', D]``
        flattened row by row (``L = H' W'``, ``H' = ceil(H / 16)`` for 4 blocks) and its mask,
        pooled as the image is. ``train``: batch statistics (:class:`MaskedBatchNorm`)."""
        if images.ndim != 3 or image_mask.shape != images.shape:
            raise ValueError(f"watcher: expected images [B, H, W] and a mask of the same shape, got "
                             f"{images.shape} and {image_mask.shape}")
        mask = image_mask.astype(jnp.float32)
        x = images[..., None] * mask[..., None]
        for block, (width, depth) in enumerate(zip(self.filters, self.layers, strict=True)):
            for level in range(depth):
                x = nn.Conv(width, (3, 3), padding="SAME", use_bias=not self.batch_norm,
                            name=f"conv{block}_{level}")(x)
                if self.batch_norm:
                    x = MaskedBatchNorm(name=f"bn{block}_{level}")(x, mask, train, axis_name)
                x = jax.nn.relu(x) * mask[..., None]
            x, mask = max_pool(x), max_pool(mask[..., None])[..., 0]
        B, H, W, D = x.shape
        return x.reshape(B, H * W, D), mask.reshape(B, H * W)

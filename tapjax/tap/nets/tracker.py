"""The TAP tracker (TAP §III-B, Eqs. 4-8): stacked bidirectional GRUs over the pen trajectory, with time pooling.

``features [B, N, 8]`` (the point features of Eq. 2) -> annotations ``A [B, L, 2H]`` (Eq. 10)
with ``L = N / 2^len(pool_after)``. The authors' released code has 4 BiGRU layers of 250 units
per direction and halves the time axis after layers 3 and 4 (``L = N / 4``, ``D = 500``).

Pooling keeps every other step (``h[:, 0::2]``), as the authors' code does, and
the mask with it: with right padding, pooled step ``l`` is real iff its first point is.
Each layer is :class:`tapjax.common.rnn.RNN` (both directions in one masked scan), so padding
never changes a real step's annotation.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from tapjax.common.rnn import RNN

Array = jax.Array


def pool_time(x: Array, mask: Array) -> tuple[Array, Array]:
    """Halves the time axis (1) of ``x [B, T, ...]`` and ``mask [B, T]`` by keeping even steps."""
    return x[:, 0::2], mask[:, 0::2]


def stride(pool_after: tuple[int, ...]) -> int:
    """How many input points one annotation step covers: ``2 ** len(pool_after)`` (4 for the authors')."""
    return 2 ** len(pool_after)


class Tracker(nn.Module):
    """Stacked BiGRU encoder: ``(features [B, N, F], mask [B, N]) -> (A [B, L, 2H], mask [B, L])``.

    ``pool_after`` lists the (1-based) layers after which time is halved.
    """

    hidden: int
    layers: int
    pool_after: tuple[int, ...]

    @nn.compact
    def __call__(self, features: Array, mask: Array) -> tuple[Array, Array]:
        x = features
        for layer in range(1, self.layers + 1):
            x = RNN(self.hidden, "gru", bidirectional=True, name=f"bigru{layer}")(x, mask)
            if layer in self.pool_after:
                x, mask = pool_time(x, mask)
        return x, mask

    @property
    def stride(self) -> int:
        return stride(self.pool_after)

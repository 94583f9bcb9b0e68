"""Weight noise (TAP's reference training anneals its best model with it): Gaussian noise added
to the weights in the forward pass only, the gradient taken at the noisy weights."""

from __future__ import annotations

import jax


def weight_noise(params, rng: jax.Array, std: float):
    """``params + N(0, std^2)`` leaf-wise (the forward pass of weight-noise training); ``std=0``: ``params``."""
    if not std:
        return params
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(rng, len(leaves))
    noisy = [w + std * jax.random.normal(k, w.shape, w.dtype) for w, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, noisy)

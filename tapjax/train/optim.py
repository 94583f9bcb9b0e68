"""Optimisers (optax) and weight noise.

The paper trains with Adadelta (``lr 1.0, rho 0.95, eps 1e-6`` in the reference code) and
clips gradients by global norm; Adam is an option. The reference anneals its best model
with *weight noise*: Gaussian noise added to the weights in the forward pass only.
"""

from __future__ import annotations

import jax
import ml_collections
import optax


def make_optimizer(cfg: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """``cfg.name`` in {"adadelta", "adam"}, ``cfg.learning_rate``, ``cfg.clip_norm`` (0: none),
    ``cfg.rho``/``cfg.eps`` (Adadelta) or ``cfg.b1``/``cfg.b2``/``cfg.eps`` (Adam)."""
    if cfg.name == "adadelta":
        opt = optax.adadelta(cfg.learning_rate, rho=cfg.rho, eps=cfg.eps)
    elif cfg.name == "adam":
        opt = optax.adam(cfg.learning_rate, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    else:
        raise ValueError(f"optimizer name must be 'adadelta' or 'adam', got {cfg.name!r}")
    return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), opt) if cfg.clip_norm else opt


def weight_noise(params, rng: jax.Array, std: float):
    """``params + N(0, std^2)`` leaf-wise (the forward pass of weight-noise training); ``std=0``: ``params``."""
    if not std:
        return params
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(rng, len(leaves))
    noisy = [w + std * jax.random.normal(k, w.shape, w.dtype) for w, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, noisy)

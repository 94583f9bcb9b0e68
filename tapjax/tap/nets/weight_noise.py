"""Adaptive weight noise, TAP's second training stage: Graves (2011), "Practical variational
inference for neural networks", as the TAP authors' code does it (JianshuZhang/TAP, v2:
``nmt_weightnoise.py``, ``apply_adative_noise`` and ``train``; ``train_nmt_weightnoise.py``).

Every weight ``w_i`` gets a Gaussian posterior ``Q = N(mu_i, sigma_i^2)`` under one Gaussian prior
``P = N(m, v)`` shared by all weights at its optimum for ``Q`` (``m`` the mean of the ``mu_i``,
``v`` the mean of ``sigma_i^2 + (mu_i - m)^2``). The loss is the variational free energy:

    F = E_{w ~ Q}[O(w)] + c * KL(Q || P),    KL = sum_i log(sqrt(v) / sigma_i)
                                                       + (sigma_i^2 + (mu_i - m)^2) / (2 v) - 1/2,

``E[O]`` (Eq. 29) from one sample ``w = mu + sigma * eps`` per batch, ``c = train.noise_complexity
/ len(train)`` (the authors: 0.1 over 2 x 8835). ``sigma^2 = exp(LOG_VAR_SCALE * s)``, starting at
``INIT_SIGMA``, the means at the first stage's best weights (``train.init_from``).

Gradients follow the authors' code (:func:`variational_gradients`): the gradient ``g`` of ``O`` at
the noisy weights is clipped (``optim.clip_norm``), ``mu`` follows ``g`` and ``s`` follows Graves'
diagonal estimate ``dE[O]/d sigma^2 ~ g^2 / 2`` (``g`` the whole batch's gradient, as theirs), each
plus the complexity term's gradient with the prior held fixed; ``mu`` and ``s`` take the same
Adadelta steps. Validation and testing decode with the means (:func:`means`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import struct

from tapjax.common.optim import make_optimizer
from tapjax.common.sharding import LossFn

LOG_VAR_SCALE = 2048.0  # the authors' log_sigma_scale: s = log(sigma^2) / 2048
INIT_SIGMA = 1e-12  # the authors' init_sigma


@struct.dataclass
class Posterior:
    """What the adaptive stage trains in place of the weights: their means and scaled log-variances."""

    mean: Any
    log_var: Any  # s, with sigma^2 = exp(LOG_VAR_SCALE * s)

    @classmethod
    def create(cls, params, sigma: float = INIT_SIGMA) -> "Posterior":
        s = 2.0 * jnp.log(sigma) / LOG_VAR_SCALE
        return cls(params, jax.tree.map(lambda w: jnp.full_like(w, s), params))

    def variances(self):
        return jax.tree.map(lambda s: jnp.exp(LOG_VAR_SCALE * s), self.log_var)


def weight_noise(params, rng: jax.Array, std):
    """``params + std * N(0, 1)`` leaf-wise, ``std`` a number or a tree like ``params`` (per weight);
    ``std=0``: ``params``."""
    if isinstance(std, (int, float)):
        if not std:
            return params
        std = jax.tree.map(lambda _: std, params)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(rng, len(leaves))
    stds = treedef.flatten_up_to(std)
    noisy = [w + s * jax.random.normal(k, w.shape, w.dtype) for w, s, k in zip(leaves, stds, keys)]
    return jax.tree.unflatten(treedef, noisy)


def means(params):
    """The weights to decode with: the means of a :class:`Posterior`, else ``params`` themselves."""
    return params.mean if isinstance(params, Posterior) else params


def is_adaptive(train: ml_collections.ConfigDict) -> bool:
    """Whether ``train.weight_noise`` asks for the adaptive stage."""
    return train.weight_noise == "adaptive"


def train_params(params, train: ml_collections.ConfigDict):
    """What a run of ``train`` trains: ``params``, or a :class:`Posterior` around them."""
    return Posterior.create(params) if is_adaptive(train) else params


def _total(tree) -> jax.Array:
    return sum(jnp.sum(x) for x in jax.tree.leaves(tree))


def complexity(posterior: Posterior, weight: float) -> jax.Array:
    """``weight * KL(Q || P)`` for the optimal prior ``P`` of ``Q``, which is held fixed (no gradient)."""
    var = posterior.variances()
    count = sum(x.size for x in jax.tree.leaves(posterior.mean))
    m = jax.lax.stop_gradient(_total(posterior.mean) / count)
    v = jax.lax.stop_gradient(_total(jax.tree.map(lambda u, s2: s2 + (u - m) ** 2, posterior.mean, var)) / count)
    kl = jax.tree.map(lambda u, s, s2: 0.5 * (jnp.log(v) - LOG_VAR_SCALE * s) + (s2 + (u - m) ** 2) / (2 * v) - 0.5,
                      posterior.mean, posterior.log_var, var)
    return weight * _total(kl)


def variational_loss(loss_fn: LossFn, weight: float) -> LossFn:
    """``loss_fn`` (over the weights) as a loss over a :class:`Posterior`: ``loss_fn`` at one sample of
    the weights, plus ``complexity`` (its value, also the metric ``complexity``). Its gradient reaches
    only the means (the sampled weights' gradient); :func:`variational_gradients` completes it."""

    def fn(posterior: Posterior, batch: dict, rng: jax.Array):
        std = jax.tree.map(jnp.sqrt, jax.lax.stop_gradient(posterior.variances()))
        loss, (count, metrics) = loss_fn(weight_noise(posterior.mean, rng, std), batch, rng)
        share = jax.lax.stop_gradient(complexity(posterior, weight)) * count  # over the global count: c
        return loss + share, (count, dict(metrics, complexity=share))

    return fn


def variational_gradients(weight: float) -> optax.GradientTransformation:
    """The authors' gradients of the free energy from the (clipped) gradient ``g`` of the loss at the
    noisy weights: ``mu``: ``g``, ``s``: ``LOG_VAR_SCALE * sigma^2 * g^2 / 2``, each plus the gradient
    of :func:`complexity`. Put it between the clipping and the optimiser."""

    def update(updates: Posterior, state, params: Posterior):
        g = updates.mean
        fisher = jax.tree.map(lambda s2, gi: 0.5 * LOG_VAR_SCALE * s2 * gi ** 2, params.variances(), g)
        return jax.tree.map(jnp.add, Posterior(g, fisher), jax.grad(complexity)(params, weight)), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int = 1, weight: float = 0.0):
    """The optimiser of a TAP run of ``config``: :func:`~tapjax.common.optim.make_optimizer` of its
    ``optim`` block, in the adaptive stage with :func:`variational_gradients` (complexity ``weight``)
    after the clipping. Neither ``steps_per_epoch`` nor ``weight`` changes the state's structure."""
    gradients = variational_gradients(weight) if is_adaptive(config.train) else None
    return make_optimizer(config.optim, steps_per_epoch, gradients)

"""Optimisers (optax) from a config's ``optim`` block, for both projects.

TAP's paper trains with Adadelta (``lr 1.0, rho 0.95, eps 1e-6`` in the reference code) and
clips gradients by global norm; the W-BADGE paper's taggers use Adam. Either can take a
cosine learning-rate decay.
"""

from __future__ import annotations

import ml_collections
import optax


def learning_rate(cfg: ml_collections.ConfigDict, steps_per_epoch: int = 1) -> float | optax.Schedule:
    """``cfg.learning_rate``, constant; or, with ``cfg.decay_epochs > 0``, cosine-decayed from it to
    ``cfg.final_lr_fraction`` of it over ``decay_epochs * steps_per_epoch`` steps and constant after."""
    if not cfg.get("decay_epochs", 0):  # absent from the config.json of runs saved before schedules
        return cfg.learning_rate
    return optax.cosine_decay_schedule(cfg.learning_rate, cfg.decay_epochs * steps_per_epoch,
                                       alpha=cfg.final_lr_fraction)


def make_optimizer(cfg: ml_collections.ConfigDict, steps_per_epoch: int = 1) -> optax.GradientTransformation:
    """``cfg.name`` in {"adadelta", "adam"}, the rate of :func:`learning_rate`, ``cfg.clip_norm``
    (0: none), ``cfg.rho``/``cfg.eps`` (Adadelta) or ``cfg.b1``/``cfg.b2``/``cfg.eps`` (Adam).

    ``steps_per_epoch`` only sets the schedule's length: the optimizer state's structure does
    not depend on it (restoring a checkpoint can leave it at 1)."""
    lr = learning_rate(cfg, steps_per_epoch)
    if cfg.name == "adadelta":
        opt = optax.adadelta(lr, rho=cfg.rho, eps=cfg.eps)
    elif cfg.name == "adam":
        opt = optax.adam(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    else:
        raise ValueError(f"optimizer name must be 'adadelta' or 'adam', got {cfg.name!r}")
    return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), opt) if cfg.clip_norm else opt

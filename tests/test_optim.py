"""Optimisers: the learning-rate schedule reaches the update (Adam's step is about the rate)."""

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.common.optim import learning_rate, make_optimizer


def _adam(decay_epochs: int) -> ml_collections.ConfigDict:
    cfg = crohme14.get_config("paper").optim
    cfg.update(name="adam", learning_rate=0.1, eps=1e-8, clip_norm=0.0, decay_epochs=decay_epochs,
               final_lr_fraction=0.1)
    return cfg


def _updates(cfg, steps: int, steps_per_epoch: int = 1) -> list[float]:
    """Adam's update of one weight under a constant gradient, step by step (``-rate`` each)."""
    tx = make_optimizer(cfg, steps_per_epoch)
    params = jnp.zeros(1)
    state = tx.init(params)
    out = []
    for _ in range(steps):
        update, state = tx.update(jnp.ones(1), state, params)
        out.append(float(update[0]))
    return out


def test_constant_rate_by_default():
    assert learning_rate(crohme14.get_config("paper").optim) == 1.0
    np.testing.assert_allclose(_updates(_adam(0), 5), -0.1, rtol=1e-4)


def test_cosine_decay_from_the_rate_to_its_final_fraction():
    updates = _updates(_adam(5), 13, steps_per_epoch=2)  # 10 steps of decay
    expected = [0.1 * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(t, 10) / 10))) for t in range(13)]
    np.testing.assert_allclose(updates, -np.asarray(expected), rtol=1e-4)
    assert updates[-1] == pytest.approx(-0.01, rel=1e-4)


def test_cpu_variant_decays_over_its_epochs():
    config = crohme14.get_config("cpu")
    cfg = config.optim
    assert cfg.decay_epochs == config.train.epochs
    schedule = learning_rate(cfg, steps_per_epoch=525)
    assert schedule(0) == pytest.approx(cfg.learning_rate)
    assert schedule(cfg.decay_epochs * 525 // 2) == pytest.approx(cfg.learning_rate * (1 + cfg.final_lr_fraction) / 2)
    assert schedule(cfg.decay_epochs * 525) == pytest.approx(cfg.learning_rate * cfg.final_lr_fraction)

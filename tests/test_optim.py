"""Optimisers: the learning-rate schedule reaches the update (Adam's step is about the rate); the paper's is the
authors' Adadelta; a step-size cut divides Adadelta's eps or Adam's rate and is checkpointed."""

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.common.checkpoint import Series
from tapjax.common.optim import cut, cuts, learning_rate, make_optimizer, spend


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


def _adadelta_step(cfg, opt_state=None) -> float:
    """Adadelta's first update of one weight under gradient 1: ``-sqrt(eps) / sqrt(0.05 + eps)``."""
    tx = make_optimizer(cfg)
    params = jnp.zeros(1)
    update, state = tx.update(jnp.ones(1), tx.init(params) if opt_state is None else opt_state, params)
    return float(update[0])


def test_paper_optimiser_is_the_authors():
    """optimizers.py's adadelta: rho 0.95, no rate, eps the 1e-8 passed as 'learning-rate'; clip-c 1000."""
    cfg = crohme14.get_config("paper").optim
    assert (cfg.name, cfg.learning_rate, cfg.rho, cfg.eps, cfg.clip_norm, cfg.lr_cut_factor) == (
        "adadelta", 1.0, 0.95, 1e-8, 1000.0, 10.0)
    assert _adadelta_step(cfg) == pytest.approx(-np.sqrt(1e-8) / np.sqrt(0.05 + 1e-8), rel=1e-4)


def test_a_cut_divides_adadelta_eps_and_survives_a_checkpoint(tmp_path):
    cfg = crohme14.get_config("paper").optim
    tx = make_optimizer(cfg)
    state = cut(tx.init(jnp.zeros(1)))
    assert cuts(state) == 1
    series = Series(tmp_path)
    series.save(1, state)
    restored = series.restore(state)
    series.close()
    assert cuts(restored) == 1
    assert _adadelta_step(cfg, restored) == pytest.approx(-np.sqrt(1e-9) / np.sqrt(0.05 + 1e-9), rel=1e-4)
    assert cuts(tx.update(jnp.ones(1), restored, jnp.zeros(1))[1]) == 1  # kept by the updates


def test_a_cut_divides_adams_rate_decayed_or_not():
    for decay_epochs in (0, 5):
        cfg = _adam(decay_epochs)
        cfg.lr_cut_factor = 10.0
        tx = make_optimizer(cfg, steps_per_epoch=2)
        params = jnp.zeros(1)
        state = cut(tx.init(params))
        update, _ = tx.update(jnp.ones(1), state, params)
        assert float(update[0]) == pytest.approx(-0.01, rel=1e-4)


def test_without_cuts_the_optimiser_state_is_the_plain_one():
    """``optim.lr_cut_factor`` 0 (no step-size cuts, as the AL configs): no injected hyper-parameter."""
    cfg = crohme14.get_config("paper").optim
    cfg.lr_cut_factor = 0.0
    state = make_optimizer(cfg).init(jnp.zeros(1))
    assert isinstance(state, tuple) and len(state) == 2 and cuts(state) == 0  # (clipping, Adadelta)


def _budget_adam(**extra) -> ml_collections.ConfigDict:
    cfg = _adam(5)
    cfg.update({"schedule_clock": "budget", **extra})
    return cfg


def test_the_budget_clock_decays_by_the_share_of_the_budget_spent():
    """With the budget as clock, progress is the larger of the steps' and the budget's share (optim docstring)."""
    tx = make_optimizer(_budget_adam(), steps_per_epoch=2)  # 10 steps of decay
    params = jnp.zeros(1)
    state = tx.init(params)
    rates = []
    for t, share in enumerate([0.0, 0.5, 0.1, 1.0, 2.0]):
        update, state = tx.update(jnp.ones(1), spend(state, share), params)
        rates.append(-float(update[0]))
    progress = [max(t / 10, min(share, 1.0)) for t, share in enumerate([0.0, 0.5, 0.1, 1.0, 2.0])]
    expected = [0.1 * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * p))) for p in progress]
    np.testing.assert_allclose(rates, expected, rtol=1e-4)
    steps_state = make_optimizer(_adam(5)).init(params)
    assert spend(steps_state, 0.5) is steps_state  # the steps clock has no budget to be told of


def test_warmup_ramps_the_rate_up_linearly():
    updates = _updates(_budget_adam(warmup_epochs=2.0, final_lr_fraction=1.0), 6, steps_per_epoch=2)
    np.testing.assert_allclose(updates, -0.1 * np.minimum(1.0, (np.arange(6) + 1) / 4), rtol=1e-4)


def test_an_unknown_clock_is_refused():
    with pytest.raises(ValueError, match="schedule_clock"):
        make_optimizer(_budget_adam(schedule_clock="epochs"))


def test_the_steps_clock_adds_nothing_to_the_state():
    """The steps clock needs no budget share in the optimiser state (only the cuts are there)."""
    state = make_optimizer(_adam(5)).init(jnp.zeros(1))
    assert set(state.hyperparams) == {"cuts"}

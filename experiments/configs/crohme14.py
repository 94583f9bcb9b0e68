"""TAP on CROHME 2014: ``get_config(variant)`` for ``--config experiments/configs/crohme14.py:VARIANT``.

Variants
--------
``paper`` (default)
    P4, the full model: spatial attention + coverage + attention guider + temporal
    attention, with the reference implementation's hyper-parameters (tracker 4 BiGRU x 250
    per direction pooled after layers 3 and 4, parser 256, attention 500, coverage kernel
    121 x 256 filters, guider weight 0.1, batch 8, test beam 10) and training regime: Eq. 29
    summed per expression and averaged over the batch, Adadelta rate 1.0 / rho 0.95 / eps 1e-8,
    gradient clipping at global norm 1000, model selection by WER on the CROHME 2013 test set
    (a validation set, neither trained on nor tested), and when 15 validations in a row (then
    more than ``train.patience``) bring no improvement, one step-size cut (Adadelta's eps / 10)
    and 15 more, then the end (tapjax.tap.fit.trainer). The authors' second stage anneals the best
    model with adaptive weight noise: ``--config.train.init_from=RUN
    --config.train.weight_noise=adaptive`` (two cuts there: ``train.noise_lr_cuts``).
``p1`` / ``p2`` / ``p3``
    The ablations of the paper's Table I, as we read it: P1 = spatial attention only
    (no coverage, no guider, no temporal attention); P2 = P1 + coverage; P3 = P2 + attention
    guider; P4 (= ``paper``) = P3 + temporal attention.
``cpu``
    A real run on the real data sized for a CPU (a 45-minute training budget): the full pipeline
    with a smaller model, Adam with a cosine learning-rate decay over its 20 epochs or its
    training time budget, whichever ends first (so a run stopped by the budget has decayed
    fully on any machine), and a smaller test beam. It keeps the regime its numbers were
    measured with (loss averaged over tokens, clipping at 100, no step-size cut: Adam's steps
    do not scale with the loss, and the decay already lowers them) but validates on CROHME 2013
    test as ``paper`` does. Its numbers are far below the paper's and are reported as such.
``gpu``
    The paper-size P4 model with the ``cpu`` variant's regime (Adam 2e-3, tokens-averaged loss,
    clipping at 100, no step-size cut) in batches of 64 with a one-epoch warm-up, the cosine
    decay ending with the 250-second training budget (or epoch 30): sized for one accelerator
    (tapjax's shipped model was trained with it: ``docs/model_card.md``). The
    budget counts training steps; compiling, validation and testing come on top.
``overfit``
    32 training expressions with a small model; validation and the "train" result are on
    those same 32 (the proof that model, loss and decoding fit together: greedy ExpRate 1.0).
"""

from __future__ import annotations

import ml_collections

from tapjax.common import run_config

VARIANTS = ("paper", "p1", "p2", "p3", "cpu", "gpu", "overfit")


def _paper() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.version = run_config.VERSION  # the set of fields this file writes (tapjax.common.run_config)
    # The model block is the only place a model hyper-parameter is written: the model is built
    # from it by keyword (tapjax.tap.nets.model_config.TAPConfig), its family by tapjax.tap.nets.families.
    c.model = ml_collections.ConfigDict(dict(
        family="tap", vocab_size=111, feature_dim=8, tracker_hidden=250, tracker_layers=4, pool_after=(3, 4),
        embed_dim=256, parser_hidden=256, attention_dim=500, coverage=True, coverage_kernel=121,
        coverage_filters=256, temporal=True, maxout_dim=256,
        temporal_attention="paper",  # or "authors": beta_t as the authors' code (tapjax.tap.nets.attention)
        # > 0: dropout of the annotations and the readout in training (not in the paper; tapjax.tap.nets.parser)
        dropout=0.0))
    c.data = ml_collections.ConfigDict(dict(
        root="",  # the data root (--data_dir sets it); empty: $TAPJAX_DATA or ./data
        cache_dir="",  # preprocessed arrays; empty: $TAPJAX_CACHE or ~/.cache/tapjax
        train_limit=0, train_max_points=0, max_tokens=0, pad_to_longest=False,
        valid="test2013"))  # or "heldout" (a seeded 5 % of train, not trained on) or "train"
    c.train = ml_collections.ConfigDict(dict(
        batch_size=8, epochs=200, patience=15, lr_cuts=1, noise_lr_cuts=2, seed=0, guider_weight=0.1,
        loss_average="expressions",  # or "tokens" (tapjax.tap.nets.loss)
        label_smoothing=0.0,  # > 0: cross-entropy against a target smoothed to uniform (tapjax.tap.nets.loss)
        average_last=0,  # > 0: try the mean of the last K validated weights as the best (tapjax.tap.fit.averaging)
        weight_noise="none", noise_complexity=0.05,  # or "adaptive" (tapjax.tap.nets.weight_noise)
        init_from="", eval_every_epochs=1, stop_at_wer=-1.0, log_every=50, checkpoint_every=1000, time_budget_s=0.0))
    c.optim = ml_collections.ConfigDict(dict(
        name="adadelta", learning_rate=1.0, rho=0.95, eps=1e-8, b1=0.9, b2=0.999, clip_norm=1000.0,
        lr_cut_factor=10.0,  # what a step-size cut divides Adadelta's eps (Adam's rate) by
        decay_epochs=0, final_lr_fraction=0.0,  # decay_epochs > 0: cosine decay (see tapjax.common.optim)
        warmup_epochs=0.0, schedule_clock="steps"))  # or "budget": decayed by the share of time_budget_s spent too
    # Decoding (validation, test, `python -m tapjax.tap.read.evaluate` / `recognize`, which fall back to
    # a run's own values): expressions per batch (split over the devices), beam widths, longest caption,
    # ranking of finished hypotheses by log-probability per symbol (the authors' decoder) or by the sum.
    c.eval = ml_collections.ConfigDict(dict(
        batch_size=16, valid_beam=10, test_beam=10, max_len=250, length_norm=True,
        test_sets=("test2014", "test2016")))
    # On-the-fly ink augmentation of the training expressions, redrawn each epoch (tapjax.tap.ink.augment):
    # the share of expressions augmented (0: off), the largest relative change of size and of x/y aspect,
    # horizontal shear factor, rotation in degrees, and point jitter as a fraction of the ink's height.
    c.augment = ml_collections.ConfigDict(dict(
        probability=0.0, scale=0.0, aspect=0.0, shear=0.0, rotation=0.0, jitter=0.0))
    return c


def get_config(variant: str = "paper") -> ml_collections.ConfigDict:
    """The config of ``variant`` (one of :data:`VARIANTS`)."""
    variant = variant or "paper"
    if variant not in VARIANTS:
        raise ValueError(f"experiments/configs/crohme14.py: unknown variant {variant!r}; choose from {VARIANTS}")
    c = _paper()
    c.variant = variant
    if variant in ("p1", "p2", "p3"):
        c.model.coverage = variant != "p1"
        c.model.temporal = False
        c.train.guider_weight = 0.1 if variant == "p3" else 0.0
    if variant in ("cpu", "gpu", "overfit"):
        c.optim.update(name="adam", learning_rate=2e-3, clip_norm=100.0)
        c.train.update(log_every=10, loss_average="tokens", lr_cuts=0)
    if variant == "gpu":
        c.optim.update(decay_epochs=30, final_lr_fraction=0.05, warmup_epochs=1.0, schedule_clock="budget")
        c.train.update(batch_size=64, epochs=30, patience=100, time_budget_s=250.0, checkpoint_every=0, log_every=20)
        c.eval.update(batch_size=128, valid_beam=1)
    if variant in ("cpu", "overfit"):
        c.model.update(tracker_hidden=64, embed_dim=64, parser_hidden=128, attention_dim=128,
                       coverage_kernel=31, coverage_filters=32, maxout_dim=128)
    if variant == "cpu":
        # over all its epochs, or over its time budget when that ends first (on a slower machine)
        c.optim.update(decay_epochs=20, final_lr_fraction=0.05, schedule_clock="budget")
        c.train.update(batch_size=16, epochs=20, patience=5, time_budget_s=2700.0, checkpoint_every=200)
        c.eval.update(batch_size=32, valid_beam=1, test_beam=3, max_len=210)
    if variant == "overfit":
        c.data.update(train_limit=32, valid="train", pad_to_longest=True)
        c.optim.update(learning_rate=3e-3)
        c.train.update(epochs=300, patience=1000, checkpoint_every=0, eval_every_epochs=5, stop_at_wer=0.0)
        c.eval.update(batch_size=32, valid_beam=1, test_beam=1, max_len=80, test_sets=())
    return c

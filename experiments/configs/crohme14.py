"""TAP on CROHME 2014: ``get_config(variant)`` for ``--config experiments/configs/crohme14.py:VARIANT``.

Variants
--------
``paper`` (default)
    P4, the full model: spatial attention + coverage + attention guider + temporal
    attention, with the reference implementation's hyper-parameters (tracker 4 BiGRU x 250
    per direction pooled after layers 3 and 4, parser 256, attention 500, coverage kernel
    121 x 256 filters, guider weight 0.1, Adadelta lr 1.0 / rho 0.95 / eps 1e-6, gradient
    clipping at global norm 100, batch 8, early stopping on validation WER, test beam 10).
``p1`` / ``p2`` / ``p3``
    The ablations of the paper's Table I, as we read it: P1 = spatial attention only
    (no coverage, no guider, no temporal attention); P2 = P1 + coverage; P3 = P2 + attention
    guider; P4 (= ``paper``) = P3 + temporal attention.
``cpu``
    A real run on the real data sized for a 2-core CPU in under an hour: the full pipeline
    with a smaller model, Adam with a cosine learning-rate decay over its 20 epochs, a
    training time budget, and a smaller test beam. Its numbers
    are far below the paper's and are reported as such.
``overfit``
    32 training expressions with a small model; validation and the "train" result are on
    those same 32 (the proof that model, loss and decoding fit together: greedy ExpRate 1.0).
"""

from __future__ import annotations

import ml_collections

VARIANTS = ("paper", "p1", "p2", "p3", "cpu", "overfit")


def _paper() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    # The model block is the only place a model hyper-parameter is written: the model is built
    # from it by keyword (tapjax.tap.model.TAPConfig.from_config).
    c.model = ml_collections.ConfigDict(dict(
        vocab_size=111, feature_dim=8, tracker_hidden=250, tracker_layers=4, pool_after=(3, 4),
        embed_dim=256, parser_hidden=256, attention_dim=500, coverage=True, coverage_kernel=121,
        coverage_filters=256, temporal=True, maxout_dim=256))
    c.data = ml_collections.ConfigDict(dict(
        root="",  # the data root (--data_dir sets it); empty: $TAPJAX_DATA or ./data
        cache_dir="",  # preprocessed arrays; empty: $TAPJAX_CACHE or ~/.cache/tapjax
        train_limit=0, train_max_points=0, valid_is_train=False, max_tokens=0, pad_to_longest=False))
    c.train = ml_collections.ConfigDict(dict(
        batch_size=8, epochs=200, patience=15, seed=0, guider_weight=0.1, weight_noise=0.0,
        init_from="", eval_every_epochs=1, stop_at_wer=-1.0, log_every=50, checkpoint_every=1000, time_budget_s=0.0))
    c.optim = ml_collections.ConfigDict(dict(
        name="adadelta", learning_rate=1.0, rho=0.95, eps=1e-6, b1=0.9, b2=0.999, clip_norm=100.0,
        decay_epochs=0, final_lr_fraction=0.0))  # decay_epochs > 0: cosine decay (see tapjax.common.optim)
    # Decoding (validation, test, `python -m tapjax.tap.evaluate` / `recognize`, which fall back to
    # a run's own values): expressions per batch (split over the devices), beam widths, longest caption.
    c.eval = ml_collections.ConfigDict(dict(
        batch_size=16, valid_beam=1, test_beam=10, max_len=250, test_sets=("test2014", "test2016")))
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
    if variant in ("cpu", "overfit"):
        c.model.update(tracker_hidden=64, embed_dim=64, parser_hidden=128, attention_dim=128,
                       coverage_kernel=31, coverage_filters=32, maxout_dim=128)
        c.optim.update(name="adam", learning_rate=2e-3, eps=1e-8)
        c.train.update(log_every=10)
    if variant == "cpu":
        c.optim.update(decay_epochs=20, final_lr_fraction=0.05)  # over all its epochs
        c.train.update(batch_size=16, epochs=20, patience=5, time_budget_s=2700.0, checkpoint_every=200)
        c.data.update(max_tokens=0)
        c.eval.update(batch_size=32, test_beam=3, max_len=210)
    if variant == "overfit":
        c.data.update(train_limit=32, valid_is_train=True, pad_to_longest=True)
        c.optim.update(learning_rate=3e-3)
        c.train.update(batch_size=8, epochs=300, patience=1000, checkpoint_every=0, eval_every_epochs=5,
                       stop_at_wer=0.0)
        c.eval.update(batch_size=32, test_beam=1, max_len=80, test_sets=())
    return c

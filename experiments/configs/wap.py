"""WAP on CROHME 2014 (the offline member of TAP's Eq. 33): ``get_config(variant)`` for
``--config experiments/configs/wap.py:VARIANT``.

The model block builds :class:`tapjax.tap.nets.wap.WAP` (``model.family = "wap"``); the images are
drawn from the ink by :mod:`tapjax.tap.ink.render` at ``model.image_height`` rows with the ``render``
block's other settings.

Variants
--------
``paper`` (default)
    WAP with the sizes and training regime of the authors' released code, the code of the WAP
    paper (github.com/JianshuZhang/WAP, ``VGG/train_nmt.py`` and ``VGG/nmt.py``): a watcher of
    4 blocks of 4 ``3 x 3`` convolutions with 32, 64, 64 and 128 filters, batch normalisation
    after each, ``2 x 2`` max-pooling after each block; embedding 256, parser GRUs 256, attention
    128, coverage ``5 x 5`` with 128 filters, maxout 256 (their ``dim_word``); Eq. 29 without the
    guider, summed per expression and averaged over batches of 8, Adam at 2e-4, gradients clipped
    at global norm 100; model selection by WER on the validation set, and when 15 validations in a
    row bring no improvement the step size is halved, twice, then training ends; beam 10 with
    hypotheses ranked by log-probability per symbol. Their images are those of CROHME's offline
    versions, ours are rendered at 128 rows (the renderer's default).
    Left out (not in the parser shared with TAP or not in the ``optim`` block): their dropout (0.2
    on three convolutions of the last block and on the maxout output) and their L2 weight decay
    (1e-4 on every weight but the batch normalisation's). Their second stage, adaptive weight noise
    (``VGG/train_nmt_weightnoise.py``: Adam at 1e-4, ``model_cost_coeff`` 0.01), is not set up here.
``cpu``
    A smaller WAP for a 2-core CPU, the recipe of ``crohme14.py:cpu`` (Adam with a cosine decay over
    40 epochs or the time budget, whichever ends first, loss averaged over tokens, clipping at 100,
    no step-size cut, beam 3) with a 90-minute training budget: images of 64 rows, a watcher of 4
    blocks of 2 convolutions with 16, 32, 48 and 64 filters, the parser of the TAP ``cpu`` variant,
    coverage ``5 x 5`` with 32 filters. On a 2-core CPU it makes 15 epochs in its budget (Table III
    row in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import ml_collections

VARIANTS = ("paper", "cpu")


def _paper() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    # The only place a WAP hyper-parameter is written: the model is built from this block by keyword
    # (tapjax.tap.nets.wap.WAPConfig.from_config).
    c.model = ml_collections.ConfigDict(dict(
        family="wap", vocab_size=111, image_height=128, watcher_filters=(32, 64, 64, 128),
        watcher_layers=(4, 4, 4, 4), batch_norm=True, embed_dim=256, parser_hidden=256, attention_dim=128,
        coverage=True, coverage_kernel=5, coverage_filters=128, maxout_dim=256))
    # How the ink is drawn (tapjax.tap.ink.render.Settings, whose height is model.image_height).
    c.render = ml_collections.ConfigDict(dict(max_width=1024, pen_width=3.0, margin=2.0))
    c.data = ml_collections.ConfigDict(dict(
        root="",  # the data root (--data_dir sets it); empty: $TAPJAX_DATA or ./data
        cache_dir="",  # preprocessed arrays; empty: $TAPJAX_CACHE or ~/.cache/tapjax
        train_limit=0, train_max_points=0, max_tokens=0, pad_to_longest=False,
        valid="test2013"))  # or "heldout" (a seeded 5 % of train, not trained on) or "train"
    # The fields of crohme14.py's train block, so that tapjax.tap.fit.trainer reads this config as it reads TAP's.
    c.train = ml_collections.ConfigDict(dict(
        batch_size=8, epochs=200, patience=15, lr_cuts=2, noise_lr_cuts=2, seed=0,
        guider_weight=0.0,  # WAP has no attention guider: Eq. 29 is the cross-entropy alone
        loss_average="expressions",  # or "tokens"
        label_smoothing=0.0, average_last=0, weight_noise="none", noise_complexity=0.05,
        init_from="", eval_every_epochs=1, stop_at_wer=-1.0, log_every=50, checkpoint_every=1000,
        time_budget_s=0.0))
    c.optim = ml_collections.ConfigDict(dict(
        name="adam", learning_rate=2e-4, rho=0.95, eps=1e-8, b1=0.9, b2=0.999, clip_norm=100.0,
        lr_cut_factor=2.0,  # the authors' "lrate = lrate / 2"
        decay_epochs=0, final_lr_fraction=0.0, warmup_epochs=0.0, schedule_clock="steps"))
    c.eval = ml_collections.ConfigDict(dict(
        batch_size=16, valid_beam=10, test_beam=10, max_len=250, length_norm=True,
        test_sets=("test2014", "test2016")))
    return c


def get_config(variant: str = "paper") -> ml_collections.ConfigDict:
    """The config of ``variant`` (one of :data:`VARIANTS`)."""
    variant = variant or "paper"
    if variant not in VARIANTS:
        raise ValueError(f"experiments/configs/wap.py: unknown variant {variant!r}; choose from {VARIANTS}")
    c = _paper()
    c.variant = variant
    if variant == "cpu":
        c.model.update(image_height=64, watcher_filters=(16, 32, 48, 64), watcher_layers=(2, 2, 2, 2),
                       embed_dim=64, parser_hidden=128, attention_dim=128, coverage_filters=32, maxout_dim=128)
        c.render.update(max_width=512)
        c.optim.update(learning_rate=2e-3, decay_epochs=40, final_lr_fraction=0.05, schedule_clock="budget")
        c.train.update(batch_size=16, epochs=40, patience=5, lr_cuts=0, loss_average="tokens", log_every=10,
                       time_budget_s=5400.0, checkpoint_every=200)
        c.eval.update(batch_size=32, valid_beam=1, test_beam=3, max_len=210)
    return c

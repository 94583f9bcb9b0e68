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
    A smaller WAP for a CPU, the recipe of ``crohme14.py:cpu`` (Adam with a cosine decay over
    40 epochs or the time budget, whichever ends first, loss averaged over tokens, clipping at 100,
    no step-size cut, beam 3) with a 90-minute training budget: images of 64 rows, a watcher of 4
    blocks of 2 convolutions with 16, 32, 48 and 64 filters, the parser of the TAP ``cpu`` variant,
    coverage ``5 x 5`` with 32 filters. Its Table III run: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import crohme14

VARIANTS = ("paper", "cpu")
# The parser of the TAP cpu variant, which WAP's cpu variant takes.
CPU_PARSER = ("embed_dim", "parser_hidden", "attention_dim", "coverage_filters", "maxout_dim")


def _model(variant: str, tap: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The model block, the only place a WAP hyper-parameter is written: the model is built from it
    by keyword (tapjax.tap.nets.model_config.WAPConfig). ``tap``: the TAP model block of ``variant``."""
    model = ml_collections.ConfigDict(dict(
        family="wap", vocab_size=111, image_height=128, watcher_filters=(32, 64, 64, 128),
        watcher_layers=(4, 4, 4, 4), batch_norm=True, embed_dim=256, parser_hidden=256, attention_dim=128,
        coverage=True, coverage_kernel=5, coverage_filters=128, maxout_dim=256))
    if variant == "cpu":
        model.update(image_height=64, watcher_filters=(16, 32, 48, 64), watcher_layers=(2, 2, 2, 2),
                     **{name: tap[name] for name in CPU_PARSER})
    return model


def get_config(variant: str = "paper") -> ml_collections.ConfigDict:
    """The config of ``variant`` (one of :data:`VARIANTS`): the TAP config of the same variant
    (``crohme14.py``, whose training regime WAP follows) with WAP's model, the ``render`` block and
    what WAP trains differently."""
    variant = variant or "paper"
    if variant not in VARIANTS:
        raise ValueError(f"experiments/configs/wap.py: unknown variant {variant!r}; choose from {VARIANTS}")
    c = crohme14.get_config(variant)
    c.model = _model(variant, c.model)
    # How the ink is drawn (tapjax.tap.ink.render.Settings, whose height is model.image_height).
    c.render = ml_collections.ConfigDict(dict(max_width=1024, pen_width=3.0, margin=2.0))
    c.train.guider_weight = 0.0  # WAP has no attention guider: Eq. 29 is the cross-entropy alone
    c.optim.lr_cut_factor = 2.0  # the authors' "lrate = lrate / 2"
    if variant == "paper":
        c.optim.update(name="adam", learning_rate=2e-4, clip_norm=100.0)
        c.train.lr_cuts = 2
    if variant == "cpu":
        c.render.max_width = 512
        c.optim.decay_epochs = 40
        c.train.update(epochs=40, time_budget_s=5400.0)
    return c

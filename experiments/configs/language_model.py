"""The GRU language model of TAP's Eq. 33: ``get_config()`` for ``tapjax lm --config
experiments/configs/language_model.py`` (:mod:`tapjax.tap.fit.lm_trainer`).

The paper gives no architecture or training data for its "GRU-based language model"; ours embeds
the previous symbol in 64 dimensions and runs one GRU layer of 256 units
(:mod:`tapjax.tap.nets.language_model`), trained by teacher forcing on the CROHME 2014 training
captions for 10 epochs in batches of 64 (Adam at 2e-3, gradients clipped at global norm 5), the
epoch kept by perplexity on the CROHME 2013 test truths, the project's validation set
(``data.valid = "none"``: the last epoch). Each field may be overridden on the command line,
e.g. ``--config.train.epochs=20``.
"""

from __future__ import annotations

import ml_collections

from tapjax.common import run_config

VARIANTS = ()  # one config: get_config() takes no variant


def get_config() -> ml_collections.ConfigDict:
    """The language model's config: ``data``, ``model`` (its sizes) and ``train`` (the fields of
    :class:`tapjax.tap.nets.language_model.TrainSettings`)."""
    c = ml_collections.ConfigDict()
    c.version = run_config.VERSION  # the set of fields this file writes (tapjax.common.run_config)
    c.data = ml_collections.ConfigDict(dict(root="", valid="test2013"))  # root "": $TAPJAX_DATA, else ./data
    c.model = ml_collections.ConfigDict(dict(embed_dim=64, hidden=256))
    c.train = ml_collections.ConfigDict(dict(epochs=10, batch_size=64, learning_rate=2e-3, clip_norm=5.0,
                                             pad_multiple=8, seed=0))
    return c

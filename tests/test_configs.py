"""The experiment configs: every variant of every file in ``experiments/configs`` loads, states the
config version and passes the checks of the code that runs it; ``--config.FIELD=value`` on the
command line reaches that code."""

import importlib
from pathlib import Path

import jax
import numpy as np
import pytest
from absl import flags
from ml_collections import config_flags

from tapjax.al import loop
from tapjax.common import optim, run_config, sharding
from tapjax.common.errors import InputError
from tapjax.tap.fit import trainer
from tapjax.tap.ink.crohme import Split
from tapjax.tap.ink.symbols import Vocab
from tapjax.tap.nets import families, weight_noise

FOLDER = Path(__file__).resolve().parents[1] / "experiments" / "configs"


def _config_modules() -> list:
    """The config files' modules: those of ``FOLDER`` with a ``get_config`` (not the shared helpers)."""
    modules = [importlib.import_module(f"experiments.configs.{path.stem}") for path in sorted(FOLDER.glob("*.py"))
               if path.stem != "__init__"]
    return [module for module in modules if hasattr(module, "get_config")]


def _variants(module) -> list[tuple[str, str | None]]:
    """``(file stem, variant)`` of each of the module's ``VARIANTS``; variant None when it has none
    (its ``get_config()`` takes no argument)."""
    stem = module.__name__.rsplit(".", 1)[1]
    return [(stem, variant) for variant in getattr(module, "VARIANTS", ())] or [(stem, None)]


VARIANTS = [pair for module in _config_modules() for pair in _variants(module)]


def _parsed(*args: str):
    """The config the absl flag ``--config`` (as the experiments' entry points define it) reads from
    the command line ``args``, its overrides (``--config.FIELD=value``) applied."""
    argv = ["prog", *args]
    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "config file[:variant]", flag_values=values, sys_argv=argv)
    values(argv)
    return values.config


def test_every_config_file_lists_its_variants():
    assert [module.__name__ for module in _config_modules() if not hasattr(module, "VARIANTS")] == []


@pytest.mark.parametrize("name, variant", VARIANTS, ids=[f"{n}:{v}" for n, v in VARIANTS])
def test_every_variant_loads_and_passes_the_checks_of_its_code(name, variant, data_root, tmp_path):
    module = importlib.import_module(f"experiments.configs.{name}")
    config = module.get_config() if variant is None else module.get_config(variant)
    assert config.version == run_config.VERSION
    if "al" in config:  # an active-learning experiment
        loop.validate(config)
        optim.make_optimizer(config.optim)
    elif "family" in config.model:  # a TAP or WAP run
        config.data.root = str(data_root)
        trainer.validate(config, tmp_path)
        weight_noise.optimizer(config)
        families.inputs_of(families.build(config), config)


def test_the_config_flag_loads_a_variant():
    config = _parsed(f"--config={FOLDER / 'wap.py'}:cpu")
    assert config.variant == "cpu" and config.model.family == "wap"


def _toy_split(n: int = 7) -> Split:
    rng = np.random.default_rng(0)
    features = [rng.normal(size=(int(rng.integers(5, 30)), 8)).astype(np.float32) for _ in range(n)]
    return Split("toy", [f"k{i}" for i in range(n)], [""] * n, features, [np.zeros(len(f), np.int32) for f in features],
                 [["x"]] * n, [[[0]]] * n, [1] * n)


def test_an_override_reaches_the_training_batches_and_the_optimiser():
    config = _parsed(f"--config={FOLDER / 'crohme14.py'}:cpu", "--config.train.batch_size=3",
                     "--config.optim.learning_rate=0.25")
    model = families.build(config)
    mesh = sharding.data_mesh(jax.devices()[:1])
    batches = trainer.epoch_batches(_toy_split(), model, Vocab(["<eol>", "x"]), config, 0, mesh)
    assert {len(batch["tokens"]) for batch in batches} == {3}
    tx = weight_noise.optimizer(config)
    params = np.zeros(1, np.float32)
    update, _ = tx.update(np.ones(1, np.float32), tx.init(params), params)
    assert float(update[0]) == pytest.approx(-0.25, rel=1e-4)  # Adam's first step: the rate


def test_an_override_reaches_the_active_learning_loop():
    config = _parsed(f"--config={FOLDER / 'al_atis.py'}:cpu", "--config.al.full_data_epochs=3")
    assert loop.full_data_config(config).train.epochs == 3
    with pytest.raises(InputError, match="train.replicas"):
        loop.validate(_parsed(f"--config={FOLDER / 'al_fmtod.py'}:smoke", "--config.train.replicas=threads"))

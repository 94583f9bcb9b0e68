"""Train TAP (or WAP) on CROHME 2014 and test on CROHME 2014 and 2016.

    python -m experiments.crohme14 --config experiments/configs/crohme14.py:paper --workdir DIR \
        [--data_dir PATH] [--config.train.batch_size=16 ...]
    python -m experiments.crohme14 --config experiments/configs/wap.py:cpu --workdir DIR

The config's ``model.family`` says which model trains (``wap.py``: WAP on the rendered ink;
:mod:`tapjax.tap.nets.families`).

A ``DIR`` that already holds a run resumes it, if the config defines the same run
(:data:`tapjax.tap.fit.trainer.MAY_CHANGE`). Results go to ``DIR/results.json``. An unusable
flag, config or workdir is one ``error:`` line and exit status 2.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from tapjax.common.cli import flag_errors, parse_absl_flags, run_cli
from tapjax.tap.fit import trainer

FLAGS = flags.FLAGS
with flag_errors():
    config_flags.DEFINE_config_file("config", "experiments/configs/crohme14.py:paper", "config file[:variant]")
flags.DEFINE_string("workdir", None, "where checkpoints, logs and results go", required=True)
flags.DEFINE_string("data_dir", None, "the data root (default: $TAPJAX_DATA or ./data)")


def _main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    config = FLAGS.config
    if FLAGS.data_dir:
        config.data.root = FLAGS.data_dir
    trainer.train_and_evaluate(config, FLAGS.workdir)


def main(argv) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_absl_flags)

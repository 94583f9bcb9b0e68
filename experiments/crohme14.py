"""Train TAP on CROHME 2014 and test on CROHME 2014 and 2016.

    python -m experiments.crohme14 --config experiments/configs/crohme14.py:paper --workdir DIR \
        [--data_dir PATH] [--config.train.batch_size=16 ...]

A ``DIR`` that already holds a run resumes it. Results go to ``DIR/results.json``.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from tapjax.tap import trainer

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "experiments/configs/crohme14.py:paper", "config file[:variant]")
flags.DEFINE_string("workdir", None, "where checkpoints, logs and results go", required=True)
flags.DEFINE_string("data_dir", None, "the data root (default: $TAPJAX_DATA or ./data)")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    config = FLAGS.config
    if FLAGS.data_dir:
        config.data.root = FLAGS.data_dir
    trainer.train_and_evaluate(config, FLAGS.workdir)


if __name__ == "__main__":
    app.run(main)

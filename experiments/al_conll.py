"""Active learning for NER on CoNLL-2003 (W-BADGE paper).

    python -m experiments.al_conll --config experiments/configs/al_conll.py:quick --workdir /tmp/al \
        [--data_dir ../shared/data] [--config.model=encdec]

A ``--workdir`` that already holds a run resumes it after its last finished round, if the
config defines the same run (:data:`tapjax.al.loop.MAY_CHANGE`). An unusable flag, config or
workdir is one ``error:`` line and exit status 2.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from tapjax.al import loop
from tapjax.common.cli import flag_errors, parse_absl_flags, run_cli

FLAGS = flags.FLAGS
with flag_errors():
    config_flags.DEFINE_config_file("config", "experiments/configs/al_conll.py", "AL configuration file.")
flags.DEFINE_string("workdir", None, "Where results, state and plots go.", required=True)
flags.DEFINE_string("data_dir", None, "Data root: sets config.data.root (default: $TAPJAX_DATA or ./data).")


def _main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    config = FLAGS.config
    if FLAGS.data_dir:
        config.data.root = FLAGS.data_dir
    loop.run(config, FLAGS.workdir)


def main(argv) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_absl_flags)

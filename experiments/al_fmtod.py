"""Active learning for slot filling on FMTOD (W-BADGE paper); flags as in :mod:`experiments.al_conll`."""

from absl import app, flags

from experiments import al_conll
from tapjax.common.cli import flag_errors, parse_absl_flags

if __name__ == "__main__":
    with flag_errors():
        flags.FLAGS.set_default("config", "experiments/configs/al_fmtod.py")
    app.run(al_conll.main, flags_parser=parse_absl_flags)

"""Active learning for slot filling on ATIS (W-BADGE paper): ``tapjax active_learning``
(:mod:`tapjax.cli.active_learning`) with ``experiments/configs/al_atis.py`` as the default config."""

import sys

from tapjax.cli import active_learning

if __name__ == "__main__":
    sys.exit(active_learning.main(default_config="experiments/configs/al_atis.py"))

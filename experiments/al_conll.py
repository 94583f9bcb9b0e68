"""Active learning for NER on CoNLL-2003 (W-BADGE paper): ``tapjax active_learning``
(:mod:`tapjax.cli.active_learning`) with ``experiments/configs/al_conll.py`` as the default config, e.g.

    python -m experiments.al_conll --config experiments/configs/al_conll.py:quick --workdir /tmp/al
"""

import sys

from tapjax.cli import active_learning

if __name__ == "__main__":
    sys.exit(active_learning.main(default_config="experiments/configs/al_conll.py"))

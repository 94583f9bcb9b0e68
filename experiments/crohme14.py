"""Train TAP (or WAP) on CROHME 2014 and test on CROHME 2014 and 2016: ``tapjax train``
(:mod:`tapjax.cli.train`, its flags and config), e.g.

    python -m experiments.crohme14 --config experiments/configs/crohme14.py:paper --workdir DIR
"""

import sys

from tapjax.cli import train

if __name__ == "__main__":
    sys.exit(train.main())

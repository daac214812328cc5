"""Train and evaluate a recbole-hsuga or RecBole model under one protocol.

    python run_recbole_hsuga.py --model=SASRecHSUGA --dataset=amazon-beauty \
        [--config_files="a.yaml b.yaml"] [--key=value ...]

Any ``--key=value`` is a RecBole / recbole-hsuga setting (``--data_path=dataset/``,
``--epochs=20``, ``--seed=43`` ...) and overrides the YAML files. Bad input exits with
status 2 and one line naming what is wrong; ``-v`` shows the traceback.

The command line itself is :func:`recbole_hsuga.cli.train_main`, also installed as
``recbole-hsuga`` and run by ``python -m recbole_hsuga``.
"""

import sys

from recbole_hsuga.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())

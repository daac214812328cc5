"""Hyper-parameter search for a recbole-hsuga or RecBole model, selecting on validation.

    python run_hyper_hsuga.py --tool=hyperopt --model=SASRecHSUGA --dataset=amazon-beauty \
        --params_file=properties/hyper/gaa_alpha.hyper [--algo=exhaustive|random|bayes] \
        [--max_evals=N] [--config_files="a.yaml b.yaml"] [--key=value ...] \
        [--scheduler=asha [--grace_period=5] [--reduction_factor=3] [--max_t=<epochs>]]

``--scheduler=asha`` stops weak trials by successive halving (Ray's ASHAScheduler with
``--tool=ray``, the same rule in-process with ``--tool=hyperopt``; README "Tuning").
``python run_hyper_hsuga.py --help`` lists the options. The command line itself is
:func:`recbole_hsuga.cli.tune_main`, also installed as ``recbole-hsuga-tune``.
"""

import sys

from recbole_hsuga.cli import tune_main

if __name__ == "__main__":
    sys.exit(tune_main())

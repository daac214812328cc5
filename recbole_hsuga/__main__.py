"""``python -m recbole_hsuga --model=... --dataset=... [--key=value ...]``: the training CLI."""

import sys

from recbole_hsuga.cli import train_main

sys.exit(train_main())

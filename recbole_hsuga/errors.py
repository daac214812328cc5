"""The one error type that means "the user's input is wrong", not "the code is wrong".

The CLIs (``run_recbole_hsuga.py``, ``run_hyper_hsuga.py``) print such an error as one
line and exit with status 2; anything else keeps its traceback. The message itself must
name what is wrong and where (key, file, line, value).
"""

from __future__ import annotations


class InputError(ValueError):
    """A configuration value, a command-line setting or an input file is unusable."""

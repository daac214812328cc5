"""``toy``: the embedded synthetic dataset of the demo and the tests.

Modules: ``raw`` (``make_toy_raw``: a make-believe beauty shop in the raw layout) and
``cli`` (the subcommand).
"""

from dataset_tools.toy.raw import make_toy_raw

__all__ = ["make_toy_raw"]

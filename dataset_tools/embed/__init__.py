"""``embed``: text vectors of users and items as RecBole atomic feature files.

Modules: ``extractors`` (where the texts come from), ``encoders`` (sentence-transformers
and LLM hidden-state encoders), ``pipeline`` (batched, resumable encoding), ``atomic``
(write/read ``<ds>.<suffix>`` + sidecar JSON), ``cli`` (the subcommand).

Models read the files with :func:`read_feature_file`. Importing this package is cheap
(numpy only); torch and the model libraries are imported when an encoder is built.
"""

from dataset_tools.formats.features import read_feature_file, write_feature_file

__all__ = ["read_feature_file", "write_feature_file"]

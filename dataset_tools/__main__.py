"""Entry point: ``python -m dataset_tools <subcommand> ...``.

Each subcommand is a package with a ``cli`` module exposing
``add_parser(subparsers) -> argparse.ArgumentParser`` and
``main(args: argparse.Namespace) -> int``. To add one, append its ``cli`` module to
``SUBCOMMAND_MODULES``. Subcommand modules are imported to build ``--help``, so they must
import heavy libraries (torch, transformers, ...) inside ``main`` and not at module level.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from dataset_tools import DatasetToolsError

#: Subcommand modules in the order ``--help`` lists them.
SUBCOMMAND_MODULES: list[str] = [
    "dataset_tools.prepare.cli",
    "dataset_tools.toy.cli",
    "dataset_tools.embed.cli",
    "dataset_tools.neighbours.cli",
    "dataset_tools.hsu.cli",
    "dataset_tools.generate.cli",
    "dataset_tools.generate.reason_cli",
    "dataset_tools.report.cli",
]

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_DATE_FORMAT = "%H:%M:%S"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per module in ``SUBCOMMAND_MODULES``."""
    parser = argparse.ArgumentParser(
        prog="python -m dataset_tools",
        description="Prepare datasets and derived files for recbole-hsuga "
        "(formats: docs/data-formats.md).",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log DEBUG messages too")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            # A subcommand whose optional dependencies are missing must not break the
            # others: list it and fail only when it is chosen.
            _add_unavailable(subparsers, module_name, exc)
            continue
        sub = module.add_parser(subparsers)
        sub.set_defaults(handler=module.main)
    return parser


def _add_unavailable(subparsers: argparse._SubParsersAction, module_name: str, exc: ImportError) -> None:
    command = module_name.removeprefix("dataset_tools.").split(".")[0]
    reason = f"subcommand {command!r} unavailable: importing {module_name} failed: {exc}"
    sub = subparsers.add_parser(command, help=f"(unavailable: {exc})", add_help=False)
    sub.add_argument("rest", nargs=argparse.REMAINDER)

    def unavailable(_args: argparse.Namespace) -> int:
        raise DatasetToolsError(reason)

    sub.set_defaults(handler=unavailable)


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    """INFO (or DEBUG/WARNING) to stderr with a timestamped, readable format."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt=LOG_DATE_FORMAT, stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen subcommand and return its exit status.

    Input errors (``DatasetToolsError``) are logged without a traceback and give status 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        return int(args.handler(args) or 0)
    except DatasetToolsError as exc:
        logging.getLogger("dataset_tools").error("%s", exc)
        return 2
    except KeyboardInterrupt:
        logging.getLogger("dataset_tools").error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())

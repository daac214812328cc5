"""``prepare``: a raw dataset folder -> the RecBole files of ``<out>/<name>/``.

Input (the raw layout, ``read``): ``interactions.txt`` with one ``user item`` pair of
integer ids per line, a user's lines contiguous and chronological, and optionally
``items.jsonl`` with one JSON object per item keyed by ``item_id``.

Output (docs/data-formats.md, "Written by prepare"): ``<name>.inter``, ``<name>.item``,
``<name>.item_text.jsonl`` and ``<name>.prepare.json``, written by the format modules of
``dataset_tools.formats``.

Modules, one step each: ``read`` (raw files, checked line by line), ``filter`` (short
users, items without metadata or interactions), ``convert`` (item-field values by kind),
``write`` (the files and the sidecar), ``problems`` (fatal and counted problems),
``dataset`` (``prepare_dataset``: the steps in order), ``cli`` (the subcommand).
"""

from dataset_tools.prepare.dataset import PrepareResult, prepare_dataset
from dataset_tools.prepare.problems import RawDataError

__all__ = ["PrepareResult", "RawDataError", "prepare_dataset"]

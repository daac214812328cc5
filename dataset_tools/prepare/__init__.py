"""``prepare``: a raw dataset folder -> the RecBole files of ``<out>/<name>/``.

Input: the format the spec's ``prepare.format`` names (``sources``): the raw layout
(``interactions.txt`` with one ``user item`` pair of integer ids per line, a user's lines
contiguous and chronological, and optionally ``items.jsonl``), RecBole atomic files, the
Amazon 2014/2018/2023 review dumps, MovieLens ml-1m/ml-20m, Yelp or Steam.

Output (docs/data-formats.md, "Written by prepare"): ``<name>.inter``, ``<name>.item``,
``<name>.item_text.jsonl`` and ``<name>.prepare.json`` (counts, the report of every
preprocessing step, the statistics check, warnings), written by the format modules of
``dataset_tools.formats``.

Modules, one step each: ``sources`` (one reader per raw format, checked line by line;
``read`` holds the raw layout's checks), ``preprocess`` (rating threshold, duplicates,
k-core, short users, time order, ids), ``stats_check`` (the paper's statistics),
``filter`` (items with and without metadata), ``convert`` (item-field values by kind),
``write`` (the files and the sidecar), ``problems`` (fatal and counted problems),
``dataset`` (``prepare_dataset``: the steps in order), ``cli`` (the subcommand).
"""

from dataset_tools.prepare.dataset import PrepareResult, prepare_dataset
from dataset_tools.prepare.problems import RawDataError

__all__ = ["PrepareResult", "RawDataError", "prepare_dataset"]

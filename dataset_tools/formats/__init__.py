"""One module per file format that the tools and ``recbole_hsuga`` share (docs/data-formats.md).

Readers, writers and format rules live here and nowhere else; ``recbole_hsuga`` imports
from ``dataset_tools`` only through this package.

- ``files``: the dataset folder, atomic writes, JSON files, the input error classes
  (all subclasses of ``DatasetToolsError``, re-exported here for ``recbole_hsuga``).
- ``inter``: ``<ds>.inter`` and the held-out rule (last ``HELD_OUT_ITEMS`` items per user).
- ``item``: ``<ds>.item``.
- ``item_text``: ``<ds>.item_text.jsonl``.
- ``features``: user/item vector files ``<ds>.<suffix>`` and their JSON sidecars.
"""

from dataset_tools import DatasetToolsError
from dataset_tools.formats.features import (
    ITEM_FIELDS,
    USER_FIELDS,
    FeatureFileError,
    read_feature_file,
    sidecar_path,
    write_feature_file,
)
from dataset_tools.formats.files import (
    FormatError,
    MissingInputError,
    atomic_write,
    dataset_dir,
    require_dataset_dir,
    write_json_atomic,
    write_jsonl_atomic,
)
from dataset_tools.formats.inter import (
    HELD_OUT_ITEMS,
    INTER_HEADER,
    InterFileError,
    held_out_part,
    held_out_record,
    inter_path,
    read_user_sequences,
    training_part,
    write_inter_rows,
    write_sequences,
)
from dataset_tools.formats.item import ATOMIC_TYPE, atomic_text, write_item_file
from dataset_tools.formats.item_text import ItemTextError, as_text, has_value, item_text_path, read_item_text

__all__ = [
    "ATOMIC_TYPE",
    "DatasetToolsError",
    "HELD_OUT_ITEMS",
    "INTER_HEADER",
    "ITEM_FIELDS",
    "USER_FIELDS",
    "FeatureFileError",
    "FormatError",
    "InterFileError",
    "ItemTextError",
    "MissingInputError",
    "as_text",
    "atomic_text",
    "atomic_write",
    "dataset_dir",
    "has_value",
    "held_out_part",
    "held_out_record",
    "inter_path",
    "item_text_path",
    "read_feature_file",
    "read_item_text",
    "read_user_sequences",
    "require_dataset_dir",
    "sidecar_path",
    "training_part",
    "write_feature_file",
    "write_inter_rows",
    "write_item_file",
    "write_json_atomic",
    "write_jsonl_atomic",
    "write_sequences",
]

"""RecBole's ``SequentialDataset`` plus the semantic tables a model names in its config.

:class:`SemanticSequentialDataset` does for the HSUGA models what a dataset class does for
UniSRec's pretrained text embeddings: after RecBole has loaded, filtered and re-indexed
the interactions, it reads every semantic feature file the config asks for, remaps each
row to RecBole's internal id, counts (and logs) what is missing, and keeps the result as
:class:`SemanticTable` objects in ``dataset.semantic_tables`` (``{"user": ..., "item": ...}``).
The model builds its tensors from these tables and the trainer takes them from its
training dataset; neither reads a file.

Files are RecBole atomic feature files ``<data_path>/<dataset>/<dataset>.<suffix>`` keyed by
original ids, with a JSON sidecar (``dataset_tools.formats.features``,
``docs/data-formats.md``). Tables loaded now (:meth:`SemanticSequentialDataset.semantic_table_specs`):

- ``user``: ``<dataset>.<semantic_suffix>``, when ``semantic_fusion`` is not ``none`` or
  ``gaa`` is on (a plain backbone runs without any vector file);
- ``item``: ``<dataset>.<item_semantic_suffix>`` (default ``itememb``, written by
  ``python -m dataset_tools embed --extractor items``), when ``hsuga_backbone`` is
  ``dual_view`` (the LLM-ESR / HSUGA dual-view models). Items without a vector get the row
  ``item_semantic_missing`` names (:func:`apply_item_missing_policy`); their count is logged
  and kept in the table's ``counts``.

Held-out guard: the vector tools hide each user's last two interactions of the raw
``.inter`` file, independently of RecBole. When RecBole's filtering (``rm_dup_inter``,
interaction-count filters) moves the split, the vectors may have seen a validation or
test target. A user table whose sidecar records ``held_out`` items is therefore checked
against RecBole's own leave-one-out targets (:func:`check_held_out`); a mismatch stops
the run. A sidecar without that record is logged as unchecked.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from recbole.data.dataset import SequentialDataset

from dataset_tools.formats.features import read_feature_file, sidecar_path
from recbole_hsuga.errors import InputError

logger = logging.getLogger(__name__)

FUSIONS = ("none", "add", "gate", "concat")
MISSING_POLICIES = ("zero", "learned")
SEMANTIC_KINDS = ("user", "item")
#: ``hsuga_backbone``: the LLM-ESR dual-view model (item semantic table + ID view) or the backbone alone.
BACKBONES = ("dual_view", "id_only")
#: ``item_semantic_missing``: the semantic row of an item without a vector (see :func:`apply_item_missing_policy`).
ITEM_MISSING_POLICIES = ("mean", "zero")


class SemanticConfigError(InputError):
    """A semantic_* setting or a semantic vector file is unusable; the message says which."""


class SemanticFileNotFoundError(SemanticConfigError, FileNotFoundError):
    """A semantic vector file named by the config does not exist."""


class HeldOutMismatchError(SemanticConfigError):
    """A user vector file's recorded held-out items are not RecBole's validation/test targets."""


# ---------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SemanticSettings:
    """The validated ``semantic_*`` / ``gaa`` keys that decide what is loaded and how it is used."""

    fusion: str
    missing: str
    user_suffix: str | None
    gaa: bool
    #: ``hsuga_backbone`` (``None`` for models that do not declare it: RecBole's own).
    backbone: str | None = None
    item_suffix: str | None = None
    item_missing: str = "mean"

    @classmethod
    def from_config(cls, config: Any) -> "SemanticSettings":
        fusion = str(config["semantic_fusion"] or "none").lower()
        missing = str(config["semantic_missing"] or "zero").lower()
        if fusion not in FUSIONS:
            raise SemanticConfigError(f"semantic_fusion must be one of {FUSIONS}, got {config['semantic_fusion']!r}")
        if missing not in MISSING_POLICIES:
            raise SemanticConfigError(
                f"semantic_missing must be one of {MISSING_POLICIES}, got {config['semantic_missing']!r}")
        backbone = config["hsuga_backbone"]
        backbone = str(backbone).lower() if backbone else None
        if backbone is not None and backbone not in BACKBONES:
            raise SemanticConfigError(f"hsuga_backbone must be one of {BACKBONES}, got {config['hsuga_backbone']!r}")
        item_missing = str(config["item_semantic_missing"] or "mean").lower()
        if item_missing not in ITEM_MISSING_POLICIES:
            raise SemanticConfigError(f"item_semantic_missing must be one of {ITEM_MISSING_POLICIES}, "
                                      f"got {config['item_semantic_missing']!r}")
        suffix = config["semantic_suffix"]
        item_suffix = config["item_semantic_suffix"]
        return cls(fusion=fusion, missing=missing, user_suffix=str(suffix) if suffix else None,
                   gaa=bool(config["gaa"]), backbone=backbone,
                   item_suffix=str(item_suffix) if item_suffix is not None else "itememb", item_missing=item_missing)

    @property
    def needs_user_vectors(self) -> bool:
        """The vectors serve fusion and GAA's neighbour search; without either nothing is read."""
        return self.fusion != "none" or self.gaa

    @property
    def needs_item_vectors(self) -> bool:
        """The dual-view models (LLM-ESR, HSUGA on it) need one semantic vector per item."""
        return self.backbone == "dual_view"


# ---------------------------------------------------------------------------- tables
@dataclass(frozen=True, eq=False)
class SemanticTable:
    """One semantic feature file, remapped to RecBole's internal ids.

    Attributes:
        kind: ``"user"`` or ``"item"``.
        suffix: the file suffix (``<dataset>.<suffix>``).
        path: the file read.
        table: ``[n, d]`` float32; row ``i`` is internal id ``i`` (zeros where no vector;
            ``n`` is RecBole's ``user_num`` / ``item_num``, padding id 0 included).
        has_vector: ``[n]`` bool (False for the padding id 0).
        sidecar: the file's JSON sidecar (``{}`` when it has none).
        counts: ``{"matched", "unknown", "missing"}``: file rows placed, file rows whose id
            RecBole does not know (dropped, e.g. filtered out), known ids without a vector.
    """

    kind: str
    suffix: str
    path: Path
    table: np.ndarray
    has_vector: np.ndarray
    sidecar: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    @property
    def n_missing(self) -> int:
        return int((~self.has_vector[1:]).sum())


def remap_vectors(
    tokens: list[str], matrix: np.ndarray, token_to_id: dict[str, int], n_rows: int, source: str = "<vectors>"
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Place each file row at its RecBole internal id.

    Args:
        tokens: ``[n]`` original ids, one per row of ``matrix``.
        matrix: ``[n, d]`` float vectors.
        token_to_id: RecBole's ``field2token_id[field]`` (original id -> internal id).
        n_rows: RecBole's ``user_num`` / ``item_num`` (padding id 0 included).
        source: name used in error messages (the file path).

    Returns:
        ``table [n_rows, d]`` float32 (zeros where no vector), ``has_vector [n_rows]`` bool
        (False for the padding id 0) and counts ``{"matched", "unknown", "missing"}``
        (see :class:`SemanticTable`).
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(tokens):
        raise SemanticConfigError(f"{source}: {len(tokens)} ids but a matrix of shape {matrix.shape}")
    internal = np.array([token_to_id.get(token, -1) for token in tokens], dtype=np.int64)
    known = internal > 0  # id 0 is RecBole's [PAD]; it never holds a vector
    table = np.zeros((n_rows, matrix.shape[1]), dtype=np.float32)
    table[internal[known]] = matrix[known]
    has_vector = np.zeros(n_rows, dtype=bool)
    has_vector[internal[known]] = True
    counts = {
        "matched": int(known.sum()),
        "unknown": int((~known).sum()),
        "missing": int(n_rows - 1 - has_vector[1:].sum()),
    }
    return table, has_vector, counts


def load_semantic_table(dataset: Any, kind: str, suffix: str | None, data_path: str | os.PathLike,
                        key: str = "semantic_suffix") -> SemanticTable:
    """Read ``<data_path>/<dataset>.<suffix>`` and remap it to ``dataset``'s internal ids.

    Args:
        dataset: a RecBole dataset after loading (its id mapping is final).
        kind: ``"user"`` (keyed by the user id field) or ``"item"`` (the item id field).
        suffix: the file suffix; ``key`` is the config key that set it (for messages).
        data_path: RecBole's ``data_path`` (the dataset's folder).

    Raises:
        SemanticFileNotFoundError: the file does not exist.
        SemanticConfigError: the file is malformed, empty, or none of its ids is known.
    """
    if kind not in SEMANTIC_KINDS:
        raise ValueError(f"semantic table kind must be one of {SEMANTIC_KINDS}, got {kind!r}")
    if not suffix:
        raise SemanticConfigError(f"{key} is empty: set it to the suffix of the {kind} vector file, e.g. useremb")
    path = Path(data_path) / f"{dataset.dataset_name}.{suffix}"
    if not path.exists():
        raise SemanticFileNotFoundError(
            f"{kind} semantic vector file {path} does not exist ({key}: {suffix!r}, data_path); "
            "write it with `python -m dataset_tools embed`")
    try:
        tokens, matrix, sidecar = read_feature_file(path)
    except ValueError as error:  # the format layer names file and line
        raise SemanticConfigError(f"{kind} semantic vector file unusable ({key}: {suffix!r}): {error}") from None
    if len(tokens) == 0:
        raise SemanticConfigError(f"{path}: holds no vectors ({key}: {suffix!r})")
    id_field = dataset.uid_field if kind == "user" else dataset.iid_field
    n_rows = dataset.user_num if kind == "user" else dataset.item_num
    table, has_vector, counts = remap_vectors(tokens, matrix, dataset.field2token_id[id_field], n_rows,
                                              source=str(path))
    if counts["matched"] == 0:
        raise SemanticConfigError(f"{path}: none of its {len(tokens)} ids is a {kind} of dataset "
                                  f"{dataset.dataset_name!r} (field {id_field}; {key}: {suffix!r})")
    logger.info("%s semantic vectors %s: %d %ss matched, %d %ss without a vector, %d rows for unknown ids "
                "ignored, dimension %d, extractor %s", kind, path, counts["matched"], kind, counts["missing"], kind,
                counts["unknown"], table.shape[1], sidecar.get("extractor", "?"))
    return SemanticTable(kind=kind, suffix=str(suffix), path=path, table=table, has_vector=has_vector,
                         sidecar=sidecar, counts=counts)


def apply_item_missing_policy(table: SemanticTable, policy: str) -> SemanticTable:
    """Fill the rows of items without a vector (``has_vector`` False, padding row 0 excluded).

    Policies (``item_semantic_missing``):

    - ``mean`` (default): the mean of the known vectors. The item starts at the centre of
      the semantic space: its PCA-initialised ID row is exactly 0 and the adapter sees an
      input of the kind it was trained on, so it looks like no particular item.
    - ``zero``: a zero vector. The adapter's output for it is its bias; for unit-norm text
      embeddings a zero row lies far off the data (and its PCA row is ``-mean`` projected),
      so every missing item starts as the same outlier.

    Padding row 0 stays zero in both. ``has_vector`` is unchanged, so the count of missing
    items stays visible (``table.n_missing``, ``counts["missing"]``).
    """
    if policy not in ITEM_MISSING_POLICIES:
        raise SemanticConfigError(f"item_semantic_missing must be one of {ITEM_MISSING_POLICIES}, got {policy!r}")
    filled = table.table.copy()
    missing = ~table.has_vector
    missing[0] = False
    if policy == "mean" and missing.any() and table.has_vector.any():
        filled[missing] = table.table[table.has_vector].mean(axis=0)
    elif policy == "zero":
        filled[missing] = 0.0
    filled[0] = 0.0
    counts = {**table.counts, "missing_policy": policy}
    if missing.any():
        logger.warning("%s: %d of %d items have no semantic vector; item_semantic_missing: %s gives them %s",
                       table.path, int(missing.sum()), len(filled) - 1, policy,
                       "the mean of the known vectors" if policy == "mean" else "a zero vector")
    return replace(table, table=filled, counts=counts)


# ---------------------------------------------------------------------------- held-out guard
def _column(feat: Any, name: str) -> np.ndarray:
    """A column of RecBole's ``inter_feat`` as numpy: a DataFrame before ``build()``, an Interaction after."""
    column = feat[name]
    return column.to_numpy() if hasattr(column, "to_numpy") else column.numpy()


def recbole_held_out_count(config: Any) -> int | None:
    """Items per user that RecBole's ``eval_args.split`` holds out (``None``: not leave-one-out)."""
    split = (config["eval_args"] or {}).get("split") or {}
    mode = split.get("LS") if isinstance(split, dict) else None
    return {"valid_and_test": 2, "valid_only": 1, "test_only": 1}.get(mode)


def recbole_user_sequences(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every user's items in time order, from RecBole's filtered ``inter_feat`` (before ``build()``).

    Returns:
        ``indptr [user_num + 1]`` and ``items``: user ``u``'s items (internal ids) are
        ``items[indptr[u]:indptr[u+1]]``, ordered by ``TIME_FIELD`` with ties in row order
        (RecBole sorts stably).
    """
    inter = dataset.inter_feat
    users = _column(inter, dataset.uid_field).astype(np.int64)
    items = _column(inter, dataset.iid_field).astype(np.int64)
    time_field = dataset.time_field
    times = _column(inter, time_field) if time_field and time_field in inter else np.arange(len(users))
    order = np.lexsort((times, users))
    indptr = np.zeros(dataset.user_num + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=dataset.user_num), out=indptr[1:])
    return indptr, items[order]


def check_held_out(table: SemanticTable, dataset: Any, config: Any) -> dict[str, int] | None:
    """Check a user table's recorded held-out items against RecBole's leave-one-out targets.

    RecBole's sequential leave-one-out (``LS: valid_and_test``) evaluates a user with at
    least three interactions on its last item (test) and, from four on, on the one before
    (validation); both count as held out here, as they do for the vector tools. For every
    such user that has a vector, the sidecar's ``held_out.items[user]`` must end with the
    user's last ``k`` items in RecBole's filtered ``inter_feat`` (``k`` = 2 for
    ``valid_and_test``, 1 for ``valid_only`` / ``test_only``).

    Returns:
        ``{"checked", "mismatched"}`` (mismatched is 0), or ``None`` when the sidecar has no
        ``held_out`` record or the split is not leave-one-out (a WARNING says so).

    Raises:
        HeldOutMismatchError: naming the file, the number of mismatching users and one
            user with both item lists.
    """
    record = table.sidecar.get("held_out")
    if record is None:
        logger.warning("%s: its sidecar %s records no held_out items, so the held-out guard cannot check that "
                       "these vectors never saw RecBole's validation/test targets (files from `python -m "
                       "dataset_tools embed` record them)", table.path, sidecar_path(table.path).name)
        return None
    k = recbole_held_out_count(config)
    if k is None:
        logger.warning("%s: eval_args.split %r is not leave-one-out; the held-out guard cannot check it",
                       table.path, (config["eval_args"] or {}).get("split"))
        return None
    if not isinstance(record, dict) or not isinstance(record.get("items"), dict):
        raise SemanticConfigError(f"{sidecar_path(table.path)}: held_out must be "
                                  "{'per_user': n, 'items': {user: [items]}}, got " + repr(record)[:200])
    recorded: dict[str, list] = record["items"]
    indptr, items = recbole_user_sequences(dataset)
    user_tokens = dataset.field2id_token[dataset.uid_field]
    item_tokens = dataset.field2id_token[dataset.iid_field]
    lengths = np.diff(indptr)
    checked, mismatched, example = 0, 0, None
    for user in np.flatnonzero(table.has_vector & (lengths >= 3)):
        checked += 1
        expected = [str(t) for t in item_tokens[items[indptr[user + 1] - k: indptr[user + 1]]]]
        token = str(user_tokens[user])
        held = [str(t) for t in recorded.get(token, [])]
        if held[-k:] != expected or len(held) < k:
            mismatched += 1
            if example is None:
                example = (token, held, expected)
    if mismatched:
        token, held, expected = example
        raise HeldOutMismatchError(
            f"{table.path}: the held-out items recorded in {sidecar_path(table.path).name} are not RecBole's "
            f"validation/test targets for {mismatched} of {checked} users with a vector, so these vectors may "
            f"have seen items the model is evaluated on. Example: user {token!r}: the vector tool held out "
            f"{held}, RecBole holds out {expected} (its last {k} items after RecBole's filtering: "
            f"rm_dup_inter, user/item_inter_num_interval, ...). Rebuild the vectors from the interactions "
            f"RecBole keeps, or filter the .inter file before `python -m dataset_tools embed`.")
    logger.info("%s: held-out guard passed (%d users checked against RecBole's split)", table.path, checked)
    return {"checked": checked, "mismatched": 0}


# ---------------------------------------------------------------------------- dataset
class SemanticSequentialDataset(SequentialDataset):
    """RecBole's ``SequentialDataset`` with the semantic tables of :meth:`semantic_table_specs`.

    ``semantic_tables`` maps a kind (``"user"``, ``"item"``) to its :class:`SemanticTable`;
    RecBole's ``build()`` copies the dataset for each split, so the training, validation
    and test datasets share the same tables.
    """

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.semantic_tables: dict[str, SemanticTable] = {}
        self.load_semantic_tables(config)

    @classmethod
    def semantic_table_specs(cls, config: Any) -> dict[str, tuple[str | None, str]]:
        """The tables ``config`` needs: ``{kind: (suffix, config key)}``."""
        settings = SemanticSettings.from_config(config)
        specs: dict[str, tuple[str | None, str]] = {}
        if settings.needs_user_vectors:
            specs["user"] = (settings.user_suffix, "semantic_suffix")
        if settings.needs_item_vectors:
            specs["item"] = (settings.item_suffix, "item_semantic_suffix")
        return specs

    def load_semantic_tables(self, config: Any | None = None) -> dict[str, SemanticTable]:
        """(Re)read every table ``config`` needs (the files are the source of truth), check
        user tables against RecBole's split, and keep them in ``semantic_tables``.

        Runs before ``build()`` (on the filtered, not yet split ``inter_feat``).
        """
        config = config if config is not None else self.config
        tables = {}
        for kind, (suffix, key) in self.semantic_table_specs(config).items():
            table = load_semantic_table(self, kind, suffix, config["data_path"], key=key)
            if kind == "user":
                check_held_out(table, self, config)
            else:
                table = apply_item_missing_policy(table, SemanticSettings.from_config(config).item_missing)
            tables[kind] = table
        self.semantic_tables = tables
        return tables

    def semantic_table(self, kind: str) -> SemanticTable | None:
        """The loaded table of ``kind``, or ``None`` when the config did not ask for it."""
        return self.semantic_tables.get(kind)

"""Per-dataset specs: ``dataset_tools/datasets/<name>.yaml``.

A spec YAML is a mapping of sections. This module validates the ``prepare:`` section
(read by ``dataset_tools.prepare``) and keeps every other top-level section untouched in
``DatasetSpec.raw`` so that other subcommands (``hsu:``, ...) can read and validate their
own section, reporting problems through ``DatasetSpec.error`` so that every message names
the YAML file and the key. The ``prepare:`` keys of the raw format (format, files, record
keys) are parsed by :mod:`dataset_tools.spec_source`, the preprocessing keys and the
expected statistics by :mod:`dataset_tools.spec_preprocess`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dataset_tools import DatasetToolsError
from dataset_tools.spec_preprocess import PREPROCESS_KEYS, PreprocessSpec, parse_preprocess
from dataset_tools.spec_source import SOURCE_KEYS, SourceSpec, parse_source

logger = logging.getLogger(__name__)

#: Folder holding the specs shipped with the project, one ``<name>.yaml`` per dataset.
SPEC_DIR = Path(__file__).resolve().parent / "datasets"

#: Kinds of item fields and how ``prepare`` writes them (see docs/data-formats.md).
FIELD_KINDS = ("text", "token", "list", "float")

_FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PREPARE_KEYS = SOURCE_KEYS | PREPROCESS_KEYS | {"item_fields"}
_FIELD_KEYS = {"kind", "required", "missing_values", "item_text", "source"}


class SpecError(DatasetToolsError):
    """A dataset spec is invalid; the message names the YAML file and the key."""


@dataclass(frozen=True)
class ItemFieldSpec:
    """One item field that ``prepare`` keeps.

    Attributes:
        name: key in ``items.jsonl`` and column name in ``<ds>.item``.
        kind: ``text`` (words -> ``token_seq``), ``token`` (one value), ``list``
            (``token_seq`` of values) or ``float``.
        required: a missing value is a counted warning (the item is kept without it);
            for optional fields missing values are only counted in the statistics.
        missing_values: cleaned string values that mean "missing" (e.g. ``Unknown``), in
            addition to absent keys, ``null`` and empty strings. For lists they drop
            single elements.
        item_text: whether the field goes into ``<ds>.item_text.jsonl`` for the LLM.
        source: the key of the raw item record to read (default: ``name``), e.g.
            ``title: {kind: text, source: app_name}`` for Steam's games file.
    """

    name: str
    kind: str
    required: bool = False
    missing_values: tuple[str, ...] = ()
    item_text: bool = True
    source: str | None = None

    @property
    def source_key(self) -> str:
        """The raw record's key this field is read from."""
        return self.source if self.source is not None else self.name

    def to_dict(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "required": self.required,
            "missing_values": list(self.missing_values),
            "item_text": self.item_text,
        }
        if self.source is not None:
            out["source"] = self.source
        return out


@dataclass(frozen=True)
class PrepareSpec:
    """The validated ``prepare:`` section (defaults filled in).

    Attributes:
        source: raw format, files and record keys (:mod:`dataset_tools.spec_source`).
        preprocess: filtering, ordering and id settings, and the expected statistics
            (:mod:`dataset_tools.spec_preprocess`).
        item_fields: the item fields to keep, in column order.
    """

    source: SourceSpec = field(default_factory=SourceSpec)
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)
    item_fields: tuple[ItemFieldSpec, ...] = ()

    @property
    def interactions_file(self) -> str:
        return self.source.interactions_file

    @property
    def items_file(self) -> str | None:
        return self.source.items_file

    @property
    def item_id_key(self) -> str:
        return self.source.item_id_key

    @property
    def min_user_interactions(self) -> int:
        """The older name of ``preprocess.min_user_length``."""
        return self.preprocess.min_user_length

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.source.to_dict(),
            **self.preprocess.to_dict(),
            "min_user_interactions": self.preprocess.min_user_length,
            "item_fields": {f.name: f.to_dict() for f in self.item_fields},
        }


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset's spec.

    Attributes:
        name: dataset name (folder and file stem of the prepared files).
        path: the YAML file, or ``None`` for the built-in default spec.
        raw: every top-level section as loaded from the YAML (unknown ones included).
        prepare: the validated ``prepare:`` section.
    """

    name: str
    path: Path | None
    raw: dict[str, Any] = field(default_factory=dict)
    prepare: PrepareSpec = field(default_factory=PrepareSpec)

    @property
    def source(self) -> str:
        """Where the spec came from, for messages."""
        return str(self.path) if self.path is not None else f"<default spec for {self.name}>"

    @property
    def is_default(self) -> bool:
        return self.path is None

    def section(self, key: str, default: Any = None) -> Any:
        """A top-level section as loaded (``default`` when absent)."""
        return self.raw.get(key, default)

    def error(self, key_path: str, message: str) -> SpecError:
        """A ``SpecError`` naming this spec's file and ``key_path`` (e.g. ``hsu.stage_len``)."""
        return SpecError(f"{self.source}: {key_path}: {message}")


def default_prepare_section() -> dict[str, Any]:
    """The ``prepare:`` section used for datasets without a YAML: keep ``title`` only."""
    return {"item_fields": {"title": {"kind": "text", "required": True}}}


def load_dataset_spec(name_or_path: str | Path, dataset_name: str | None = None) -> DatasetSpec:
    """Load and validate a dataset spec.

    Args:
        name_or_path: a dataset name (looked up as ``SPEC_DIR/<name>.yaml``) or the path of
            a YAML file (anything ending in ``.yaml``/``.yml`` or containing a path separator).
        dataset_name: the dataset's name; defaults to the given name or the file's stem.

    Returns:
        The spec. A name without a YAML in ``SPEC_DIR`` gets the default spec (keep
        ``title``, skip every other item field), announced in the log.

    Raises:
        SpecError: the file given as a path is missing, is not YAML, or is invalid.
    """
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text
    if looks_like_path:
        path = Path(text)
        if not path.is_file():
            raise SpecError(f"{path}: spec file not found")
        return _load_file(path, dataset_name or path.stem)
    name = dataset_name or text
    path = SPEC_DIR / f"{text}.yaml"
    if path.is_file():
        return _load_file(path, name)
    logger.info(
        "no spec %s for dataset %r: using the default (keep item field 'title' if present, "
        "skip every other field, min_user_interactions=3)",
        path,
        name,
    )
    raw = {"prepare": default_prepare_section()}
    return DatasetSpec(name=name, path=None, raw=raw, prepare=parse_prepare_section(raw["prepare"], None))


def _load_file(path: Path, name: str) -> DatasetSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}")
    for key in raw:
        if not isinstance(key, str):
            raise SpecError(f"{path}: top-level key {key!r} must be a string")
    prepare_raw = raw.get("prepare")
    if prepare_raw is None:
        prepare_raw = {}
    prepare = parse_prepare_section(prepare_raw, path)
    spec = DatasetSpec(name=name, path=path, raw=raw, prepare=prepare)
    logger.debug("loaded spec %s (sections: %s)", path, ", ".join(raw) or "none")
    return spec


def parse_prepare_section(section: Any, path: Path | None) -> PrepareSpec:
    """Validate a ``prepare:`` mapping and fill in defaults.

    Raises:
        SpecError: naming ``path`` and the offending key, e.g. ``prepare.item_fields.title.kind``.
    """
    source = str(path) if path is not None else "<default spec>"

    def fail(key: str, message: str) -> SpecError:
        return SpecError(f"{source}: {key}: {message}")

    if not isinstance(section, Mapping):
        raise fail("prepare", f"must be a mapping, got {type(section).__name__}")
    unknown = sorted(set(map(str, section)) - _PREPARE_KEYS)
    if unknown:
        raise fail(f"prepare.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_PREPARE_KEYS))})")
    fields_raw = section.get("item_fields", {})
    if fields_raw is None:
        fields_raw = {}
    if not isinstance(fields_raw, Mapping):
        raise fail("prepare.item_fields", f"must be a mapping field -> settings, got {type(fields_raw).__name__}")
    source_spec = parse_source(section, fail, default_spec=path is None, has_item_fields=bool(fields_raw))
    if fields_raw and source_spec.items_file is None:
        raise fail("prepare.item_fields", "item fields are listed but items_file is null (interactions only)")
    item_fields = tuple(
        _parse_field(str(name), settings, source_spec.item_id_key, fail) for name, settings in fields_raw.items()
    )
    return PrepareSpec(source=source_spec, preprocess=parse_preprocess(section, fail), item_fields=item_fields)


def _parse_field(name: str, settings: Any, item_id_key: str, fail) -> ItemFieldSpec:
    key = f"prepare.item_fields.{name}"
    if not _FIELD_NAME_RE.match(name):
        raise fail(key, "field names must be identifiers (letters, digits, _) to be RecBole column names")
    if name in (item_id_key, "item_id"):
        raise fail(key, "the item id is always written; do not list it as an item field")
    if isinstance(settings, str):  # shorthand `title: text`
        settings = {"kind": settings}
    if not isinstance(settings, Mapping):
        raise fail(key, f"must be a kind ({'/'.join(FIELD_KINDS)}) or a mapping, got {settings!r}")
    unknown = sorted(set(map(str, settings)) - _FIELD_KEYS)
    if unknown:
        raise fail(f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_FIELD_KEYS))})")
    kind = settings.get("kind")
    if kind not in FIELD_KINDS:
        raise fail(f"{key}.kind", f"must be one of {', '.join(FIELD_KINDS)}, got {kind!r}")
    required = settings.get("required", False)
    if not isinstance(required, bool):
        raise fail(f"{key}.required", f"must be true or false, got {required!r}")
    item_text = settings.get("item_text", kind != "float")
    if not isinstance(item_text, bool):
        raise fail(f"{key}.item_text", f"must be true or false, got {item_text!r}")
    missing = settings.get("missing_values", [])
    if missing is None:
        missing = []
    if isinstance(missing, (str, int, float)) and not isinstance(missing, bool):
        missing = [missing]
    if not isinstance(missing, list) or not all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in missing
    ):
        raise fail(f"{key}.missing_values", f"must be a list of strings, got {missing!r}")
    source = settings.get("source")
    if source is not None and (not isinstance(source, str) or not source):
        raise fail(f"{key}.source", f"must be the raw record's key to read, got {source!r}")
    return ItemFieldSpec(
        name=name,
        kind=kind,
        required=required,
        missing_values=tuple(str(v).strip() for v in missing),
        item_text=item_text,
        source=source,
    )

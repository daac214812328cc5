"""Types of settings, read from the typed comments of the YAML files a config layers.

Every key of this package's ``properties/**/*.yaml`` carries an inline comment that starts
with its type::

    gaa_alpha: 0.1                  # (float) Weight of the self-distillation loss; ...

:func:`read_declarations` collects those ``(type)`` tags from the files a
:class:`~recbole_hsuga.config.HSUGAConfig` actually layered (whichever files they are: a
key may move from one YAML to another), and :meth:`Declaration.allows` checks a final
value against its tag after RecBole has parsed it. A type this module does not know is not
checked; neither is a key that no layered file declares (RecBole's own keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

#: ``key: value  # (type) text`` at the top level of a YAML file (nested keys are a
#: dict's content, typed by the dict's own tag).
_DECLARATION = re.compile(r"^(?P<key>[A-Za-z_][\w\-]*)\s*:(?P<value>[^#]*?)\s*#\s*\((?P<type>[^)]*)\)")

#: type tag -> check of a parsed value. bool is not an int here (YAML ``true`` for an
#: int key is a mistake); an int is a float (``learning_rate: 1``).
_CHECKS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, (list, tuple)),
    "dict": lambda v: isinstance(v, dict),
}
_NONE_WORDS = ("none", "null", "~")


@dataclass(frozen=True)
class Declaration:
    """The declared type of one key and the file that declares it."""

    key: str
    types: tuple[str, ...]  # e.g. ("float",), ("int", "none") for "(int or None)"
    file: Path

    def allows(self, value: Any) -> bool:
        """Whether ``value`` has one of the declared types (unknown types allow anything)."""
        if value is None:
            return any(t in _NONE_WORDS for t in self.types)
        known = [t for t in self.types if t in _CHECKS]
        return not known or any(_CHECKS[t](value) for t in known)

    @property
    def type_text(self) -> str:
        return " or ".join(self.types)


def parse_types(tag: str) -> tuple[str, ...]:
    """``"int"`` -> ``("int",)``; ``"int or None"``, ``"int|None"`` -> ``("int", "none")``."""
    words = [w.lower() for w in re.split(r"[\s,|/]+|\bor\b", tag) if w.strip()]
    return tuple(w for w in words if w != "or")


def read_declarations(files: Iterable[str | Path]) -> dict[str, Declaration]:
    """Declared types by key over ``files``; the first file that declares a key wins.

    Files are given lowest layer first, so a key is reported as declared where its
    default lives. Missing files are skipped.
    """
    declarations: dict[str, Declaration] = {}
    for file in files:
        path = Path(file)
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _DECLARATION.match(line)
            if match and match["key"] not in declarations:
                declarations[match["key"]] = Declaration(match["key"], parse_types(match["type"]), path)
    return declarations


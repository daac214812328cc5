"""Search spaces: RecBole's ``.hyper`` files, parsed once, and both back-ends' spaces.

A search space is a ``.hyper`` file in RecBole's format, one parameter a line::

    gaa_alpha choice [1.0,0.5,0.1]
    learning_rate loguniform -8,0        # bounds of ln(value), as hyperopt means them
    dropout_prob uniform 0.1,0.5
    embedding_size quniform 32,128,32

:func:`read_hyper_file` parses it (errors name file and line) into :class:`SearchParameter`
objects that both back-ends' spaces are built from (:func:`to_hyperopt_space`,
:func:`to_ray_space`).
"""

from __future__ import annotations

import ast
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from recbole_hsuga.errors import InputError

PARAMETER_KINDS = ("choice", "uniform", "quniform", "loguniform")


class HyperFileError(InputError):
    """A ``.hyper`` file is malformed; the message names file and line."""


@dataclass(frozen=True)
class SearchParameter:
    """One line of a ``.hyper`` file.

    ``values`` is the list of candidates for ``choice``; ``(low, high)`` for ``uniform`` and
    ``loguniform`` (bounds of ``ln(value)``, hyperopt's convention); ``(low, high, q)`` for
    ``quniform``.
    """

    name: str
    kind: str
    values: tuple


def _parse_bounds(text: str, count: int, where: str) -> tuple[float, ...]:
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) != count:
        raise HyperFileError(f"{where}: expected {count} comma-separated numbers, got {text!r}")
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        raise HyperFileError(f"{where}: bounds {text!r} are not numbers") from None
    if not numbers[0] < numbers[1]:
        raise HyperFileError(f"{where}: lower bound {numbers[0]} is not below upper bound {numbers[1]}")
    if count == 3 and numbers[2] <= 0:
        raise HyperFileError(f"{where}: step q must be positive, got {numbers[2]}")
    return numbers


def read_hyper_file(path: str | os.PathLike) -> list[SearchParameter]:
    """Parse a RecBole ``.hyper`` file: ``name kind values`` per line, ``#`` starts a comment.

    Choice lists are read with :func:`ast.literal_eval` (RecBole calls ``eval``), so only
    literals are accepted. Unlike RecBole, a malformed line is an error, not skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file not found: {path}")
    parameters: list[SearchParameter] = []
    seen: set[str] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        where = f"{path}:{number}"
        tokens = line.split()
        if len(tokens) < 3:
            raise HyperFileError(f"{where}: expected 'name kind values', got {raw.strip()!r}")
        name, kind, text = tokens[0], tokens[1], "".join(tokens[2:])
        if kind not in PARAMETER_KINDS:
            raise HyperFileError(f"{where}: unknown kind {kind!r} of {name!r}; use one of {', '.join(PARAMETER_KINDS)}")
        if name in seen:
            raise HyperFileError(f"{where}: parameter {name!r} is defined twice")
        seen.add(name)
        if kind == "choice":
            try:
                values = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise HyperFileError(f"{where}: choices of {name!r} are not a Python literal list: {text!r}") from None
            if not isinstance(values, (list, tuple)) or not values:
                raise HyperFileError(f"{where}: choices of {name!r} must be a non-empty list, got {text!r}")
            parameters.append(SearchParameter(name, kind, tuple(values)))
        else:
            parameters.append(SearchParameter(name, kind, _parse_bounds(text, 3 if kind == "quniform" else 2, where)))
    if not parameters:
        raise HyperFileError(f"{path}: no parameters")
    return parameters


def _strip_comment(line: str) -> str:
    """Cut ``line`` at the first ``#`` that is not inside a quoted choice value."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def space_size(parameters: Sequence[SearchParameter]) -> int | None:
    """Number of grid points, or ``None`` when a parameter is continuous."""
    if any(p.kind != "choice" for p in parameters):
        return None
    return math.prod(len(p.values) for p in parameters)


def _integral(numbers: Sequence[float]) -> bool:
    return all(float(n).is_integer() for n in numbers)


def to_hyperopt_space(parameters: Sequence[SearchParameter]) -> dict:
    """hyperopt ``hp.*`` expressions by name (what RecBole's HyperTuning builds from a file)."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    space = {}
    for p in parameters:
        if p.kind == "choice":
            space[p.name] = hp.choice(p.name, list(p.values))
        elif p.kind == "uniform":
            space[p.name] = hp.uniform(p.name, *p.values)
        elif p.kind == "quniform":
            # Integral grids (sizes, counts) must reach the model as int, not 64.0.
            draw = hp.quniform(p.name, *p.values)
            space[p.name] = scope.int(draw) if _integral(p.values) else draw
        else:
            space[p.name] = hp.loguniform(p.name, *p.values)
    return space


def to_ray_space(parameters: Sequence[SearchParameter], grid: bool = False) -> dict:
    """Ray Tune ``param_space``: the same distributions as :func:`to_hyperopt_space`.

    ``grid=True`` turns every choice into ``tune.grid_search`` (one trial per combination).
    ``loguniform`` bounds are exponentiated: hyperopt takes ``ln`` bounds, Ray real ones.
    """
    from ray import tune

    space = {}
    for p in parameters:
        if p.kind == "choice":
            space[p.name] = tune.grid_search(list(p.values)) if grid else tune.choice(list(p.values))
        elif p.kind == "uniform":
            space[p.name] = tune.uniform(*p.values)
        elif p.kind == "quniform":
            low, high, q = p.values
            space[p.name] = tune.qrandint(int(low), int(high), int(q)) if _integral(p.values) else tune.quniform(low, high, q)
        else:
            space[p.name] = tune.loguniform(math.exp(p.values[0]), math.exp(p.values[1]))
    return space


def _same_value(a: object, b: object) -> bool:
    """Equal as a setting: numbers by value (``0`` is ``0.0``; a bool is not a number), others by ``==``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def point_of(parameter: SearchParameter, value: object) -> object:
    """``value`` as a point of ``parameter``'s space (a choice's own candidate, so that a trial on it
    is the trial a grid draws there), or :class:`InputError` naming why it is not one."""
    where = f"{parameter.name} = {value!r}"
    if parameter.kind == "choice":
        for candidate in parameter.values:
            if _same_value(value, candidate):
                return candidate
        raise InputError(f"{where} is not among the choices {list(parameter.values)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where} is not a number, so not a point of its {parameter.kind} range")
    low, high = parameter.values[:2]
    position = math.log(value) if parameter.kind == "loguniform" and value > 0 else value
    if parameter.kind == "loguniform" and value <= 0:
        raise InputError(f"{where} is not positive, so not a point of its loguniform range")
    if not low - 1e-9 <= position <= high + 1e-9:
        shown = f"[{math.exp(low):.3g}, {math.exp(high):.3g}]" if parameter.kind == "loguniform" else f"[{low}, {high}]"
        raise InputError(f"{where} lies outside its {parameter.kind} range {shown}")
    if parameter.kind == "quniform":
        step = parameter.values[2]
        if not math.isclose(round(value / step) * step, value, rel_tol=1e-9, abs_tol=1e-12):
            raise InputError(f"{where} is not a multiple of the step {step}")
    return value


"""The numbers under which a model that writes item ids as text sees the items.

RecBole's internal ids are dense indices; a text-id model (P5, ISRF, the ``NextId`` probe) reads
the *written* id of an item as a number. Where the written ids follow first appearance (``prepare``
reports ``item_id_numbering``), those numbers leak the order in which items appear, so the
default for such models is ``permuted``: a seeded random permutation of ``1..n_items - 1``, the
same for every run with the same ``text_ids_seed``. ``written`` keeps the file's numbering, to
measure the leak (``text_ids`` is the key).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recbole_hsuga.errors import InputError

TEXT_ID_ORDERS = ("permuted", "written")


def text_id_numbers(dataset: Any, item_field: str, order: str, seed: int) -> np.ndarray:
    """``[n_items]`` float64: the number of each internal item id (row 0, padding: ``-inf``).

    Raises:
        InputError: an unknown ``order``, or ``written`` with an id that is not a number.
    """
    tokens = np.asarray(dataset.field2id_token[item_field][1:], dtype=str)  # row 0: padding
    numbers = np.full(len(tokens) + 1, -np.inf)
    if order == "permuted":
        numbers[1:] = np.random.default_rng(seed).permutation(len(tokens)) + 1
        return numbers
    if order != "written":
        raise InputError(f"text_ids must be one of {TEXT_ID_ORDERS}, got {order!r}")
    for index, token in enumerate(tokens, start=1):
        try:
            numbers[index] = float(token)
        except ValueError:
            raise InputError(f"text_ids: written needs numeric item ids: {dataset.dataset_name}.inter field "
                             f"{item_field} has {str(token)!r}") from None
    return numbers


def text_ids_from_config(config: Any) -> tuple[str, int]:
    """``(order, seed)`` from ``text_ids`` / ``text_ids_seed``."""
    order = str(config["text_ids"] or "permuted").lower()
    if order not in TEXT_ID_ORDERS:
        raise InputError(f"text_ids must be one of {TEXT_ID_ORDERS}, got {config['text_ids']!r}")
    seed = config["text_ids_seed"]
    return order, int(0 if seed is None else seed)

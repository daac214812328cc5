"""Whether item ids are numbered in order of first appearance: a leak for models that read ids as text.

S3-Rec's ``Beauty.txt`` (and P5's copy, hence amazon-beauty here) numbers items 1, 2, 3, ... as
they first appear along the users' sequences, users in file order. An ID-embedding model cannot
see that, but a model that writes ids as text (P5, POD, ELMRec, ISRF) can learn "the next unseen
number": on amazon-beauty that rule alone (the ``NextId`` probe) scores about as high as a
trained SASRec. ``prepare`` measures the numbering of what it writes and says so in its report.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def id_numbering(items: Sequence[str]) -> dict:
    """Item ids against the order in which the items first appear in ``items`` (the written rows:
    users in order, each user's items in time order).

    Returns:
        ``{"numeric", "items", "first_appearance", "out_of_order", "spearman"}``:
        whether every id is an integer; how many distinct items; whether the ids increase
        strictly along first appearances (the leak); how many first appearances have a smaller id
        than the one before; and the rank correlation of id and first-appearance position
        (``None`` for non-numeric ids).
    """
    first_seen = pd.unique(pd.Series(list(items), dtype=str))
    numeric = pd.to_numeric(pd.Series(first_seen), errors="coerce")
    report = {"numeric": bool(len(first_seen)) and not numeric.isna().any(), "items": int(len(first_seen)),
              "first_appearance": False, "out_of_order": None, "spearman": None}
    if not report["numeric"]:
        return report
    ids = numeric.to_numpy(dtype=np.float64)
    out_of_order = int((np.diff(ids) < 0).sum())
    report["out_of_order"] = out_of_order
    report["first_appearance"] = out_of_order == 0 and len(ids) > 1
    if len(ids) > 1:
        id_rank = ids.argsort().argsort().astype(np.float64)
        position = np.arange(len(ids), dtype=np.float64)
        report["spearman"] = round(float(np.corrcoef(position, id_rank)[0, 1]), 6)
    return report


def numbering_warning(name: str, report: dict) -> str | None:
    """The log line for a leaking numbering (``None`` when the ids do not follow first appearance)."""
    if not report["first_appearance"]:
        return None
    return (f"{name}: item ids are numbered in order of first appearance ({report['items']} items, none out of "
            "order): a model that reads ids as text can learn 'the next unseen id'; such models must re-index "
            "them (the NextId probe measures what the numbering is worth)")

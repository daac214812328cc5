"""Make RecBole 1.2.1 run on numpy 2 / torch 2.13 / pandas 2 -- from outside RecBole.

RecBole 1.2.1 predates these releases. Everything it needs is applied here, once, before
any RecBole module runs (``import recbole_hsuga`` calls :func:`apply`):

* numpy 2 removed aliases RecBole and ray 2.6.3 still use (``np.float``, ``np.float_``,
  ``np.bool8`` ...). ``Config.compatibility_settings`` assigns ``np.float = np.float_``,
  which raises on numpy 2, and a Config restored from a checkpoint skips ``__init__`` so
  the plain names must exist too.
* torch >= 2.6 loads with ``weights_only=True``; RecBole checkpoints pickle the Config.
  :func:`load_recbole_checkpoint` loads *only* checkpoints this program wrote itself with
  ``weights_only=False``; torch's default stays untouched for everything else.
* pandas 3 copy-on-write turns RecBole's chained ``df[f].fillna(..., inplace=True)``
  (dataset.py) into silent no-ops: NaN stays in float fields and missing token_seq values
  crash later. We refuse to run on pandas >= 3 instead of computing wrong features.
* ``recbole/model/sequential_recommender/sine.py`` switches autograd anomaly detection on
  at import time, for every model; it doubles the step time of a transformer on CPU.
* RecBole's ``Trainer._train_epoch`` builds ``torch.cuda.amp.GradScaler`` every epoch, which
  torch >= 2.4 answers with a FutureWarning: two lines per epoch in every training log, with
  nothing a user can change. That one warning is silenced (:func:`silence_recbole_warnings`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

# numpy names RecBole / ray 2.6.3 use, mapped to their numpy 2 equivalents.
_NUMPY_ALIASES: dict[str, Any] = {
    "float_": np.float64,
    "complex_": np.complex128,
    "unicode_": np.str_,
    "bool8": np.bool_,
    "Inf": np.inf,
    "float": float,
    "int": int,
    "bool": bool,
    "object": object,
    "str": str,
    "long": int,
}

_applied = False


def apply_numpy_aliases() -> None:
    """Restore the numpy aliases removed in numpy 2 (no-op where they exist)."""
    for name, value in _NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)


def check_pandas() -> None:
    """Fail loudly on pandas >= 3, under which RecBole silently skips filling NaN."""
    import pandas as pd

    major = int(pd.__version__.split(".")[0])
    if major >= 3:
        raise ImportError(
            f"pandas {pd.__version__} is installed, but RecBole 1.2.1 relies on chained in-place "
            "fillna, which pandas 3 copy-on-write silently ignores (missing feature values would "
            "stay NaN). Install 'pandas>=2.2,<3' (setup.py pins it)."
        )


def disable_anomaly_detection() -> None:
    """Undo the ``set_detect_anomaly(True)`` that importing RecBole's SINE model performs."""
    import torch

    torch.autograd.set_detect_anomaly(False)


def load_recbole_checkpoint(path: str | os.PathLike, map_location: Any = None) -> dict:
    """Load a checkpoint written by RecBole's ``Trainer._save_checkpoint``.

    These files pickle RecBole's ``Config`` object, which torch's ``weights_only=True``
    default rejects. Only call this for checkpoints this program wrote itself: unpickling
    runs arbitrary code.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return torch.load(path, map_location=map_location, weights_only=False)


def silence_recbole_warnings() -> None:
    """Ignore the FutureWarning RecBole's trainer triggers in every epoch (see the module docstring)."""
    warnings.filterwarnings("ignore", message=r"`torch\.cuda\.amp\.GradScaler\(args\.\.\.\)` is deprecated",
                            category=FutureWarning)


def apply() -> None:
    """Apply every shim once. Safe to call repeatedly."""
    global _applied
    if _applied:
        return
    apply_numpy_aliases()
    check_pandas()
    silence_recbole_warnings()
    # Importing RecBole's models runs sine.py (anomaly detection on); import them now,
    # then switch it off, so later get_model() calls find the modules already loaded.
    import recbole.model.sequential_recommender  # noqa: F401

    disable_anomaly_detection()
    _applied = True

"""recbole-hsuga: LLM-enhanced sequential recommendation (HSUGA) as a RecBole extension.

Importing the package applies the compatibility shims RecBole 1.2.1 needs on current
numpy / torch / pandas (see :mod:`recbole_hsuga.compat`) before any RecBole code runs.
"""

from recbole_hsuga import compat

compat.apply()

from recbole_hsuga.config import HSUGAConfig  # noqa: E402
from recbole_hsuga.registry import get_model, get_trainer  # noqa: E402

__all__ = ["HSUGAConfig", "get_model", "get_trainer"]
__version__ = "0.1.0"

"""One module per file format that the tools and ``recbole_hsuga`` share (docs/data-formats.md).

Readers, writers and format rules live here and nowhere else; ``recbole_hsuga`` imports
from ``dataset_tools`` only through this package.
"""

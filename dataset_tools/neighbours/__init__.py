"""``python -m dataset_tools neighbours``: GRASP's neighbour-mean tables (ū, ī) from a vector file."""

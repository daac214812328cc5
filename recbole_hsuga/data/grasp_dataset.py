"""The dataset class of the GRASP models: four frozen semantic tables, remapped like the others.

GRASP (Generation Augmented Retrieval with Holistic Attention for Sequential Prediction)
reads, per user and per item, the LLM vector and the mean of its top-k cosine neighbours
(ū, ī), all computed offline (``python -m dataset_tools embed`` for the vectors,
``python -m dataset_tools neighbours`` for the means). :class:`GRASPSequentialDataset`
loads them through :func:`~recbole_hsuga.data.dataset.load_semantic_table` (RecBole's id
remapping, counts of unknown and missing ids, logging), so the model only receives tensors:

===================  =====================================  ===============================
table name           file                                   config key
===================  =====================================  ===============================
``user``             ``<ds>.<grasp_user_suffix>``           ``grasp_user_suffix``
``user_neighbours``  ``<ds>.<grasp_user_neighbour_suffix>`` ``grasp_user_neighbour_suffix``
``item``             ``<ds>.<grasp_item_suffix>``           ``grasp_item_suffix``
``item_neighbours``  ``<ds>.<grasp_item_neighbour_suffix>`` ``grasp_item_neighbour_suffix``
===================  =====================================  ===============================

Both user tables go through the held-out guard (:func:`check_held_out`): a neighbour file
copies its source's ``held_out`` record into its sidecar. Rows without a vector get
``grasp_missing`` (:func:`apply_item_missing_policy`, which works for any table).
"""

from __future__ import annotations

from typing import Any

from recbole_hsuga.data.dataset import (
    ITEM_MISSING_POLICIES,
    SemanticConfigError,
    SemanticSequentialDataset,
    SemanticTable,
    apply_item_missing_policy,
    check_held_out,
    load_semantic_table,
)

#: table name -> (kind, config key of its suffix)
GRASP_TABLES = {
    "user": ("user", "grasp_user_suffix"),
    "user_neighbours": ("user", "grasp_user_neighbour_suffix"),
    "item": ("item", "grasp_item_suffix"),
    "item_neighbours": ("item", "grasp_item_neighbour_suffix"),
}


def grasp_missing_policy(config: Any) -> str:
    policy = str(config["grasp_missing"] or "mean").lower()
    if policy not in ITEM_MISSING_POLICIES:
        raise SemanticConfigError(f"grasp_missing must be one of {ITEM_MISSING_POLICIES}, got {config['grasp_missing']!r}")
    return policy


class GRASPSequentialDataset(SemanticSequentialDataset):
    """:class:`SemanticSequentialDataset` holding GRASP's four tables (see the module docstring)."""

    @classmethod
    def semantic_table_specs(cls, config: Any) -> dict[str, tuple[str | None, str]]:
        return {name: (config[key], key) for name, (_, key) in GRASP_TABLES.items()}

    def load_semantic_tables(self, config: Any | None = None) -> dict[str, SemanticTable]:
        config = config if config is not None else self.config
        policy = grasp_missing_policy(config)
        tables = {}
        for name, (suffix, key) in self.semantic_table_specs(config).items():
            kind = GRASP_TABLES[name][0]
            table = load_semantic_table(self, kind, suffix, config["data_path"], key=key)
            if kind == "user":
                check_held_out(table, self, config)
            tables[name] = apply_item_missing_policy(table, policy)
        for side in ("user", "item"):
            own, neighbours = tables[side], tables[f"{side}_neighbours"]
            if own.dim != neighbours.dim:
                raise SemanticConfigError(
                    f"{neighbours.path} has {neighbours.dim}-d vectors, {own.path} {own.dim}-d: the neighbour means "
                    f"must come from the {side} table itself (`python -m dataset_tools neighbours --source "
                    f"{own.suffix}`)")
        self.semantic_tables = tables
        return tables

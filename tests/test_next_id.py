"""NextId (recbole_hsuga/model/next_id.py): the "next unseen id" rule ranks the ids after the
user's largest one, nearest first; non-numeric ids are refused; it runs through the runner."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import TINY_DATASET, TINY_RUN, build_run

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from recbole_hsuga.errors import InputError


@pytest.fixture(scope="module")
def numeric_root(tmp_path_factory):
    """Items numbered in order of first appearance: user u{k} meets items k, k+1, ..., k+5."""
    from dataset_tools.formats.inter import write_sequences

    root = tmp_path_factory.mktemp("nextid")
    (root / "numbered").mkdir()
    write_sequences(root / "numbered" / "numbered.inter",
                    {f"u{k}": [str(k + step) for step in range(6)] for k in range(1, 21)})
    return root


def test_scores_rank_the_next_ids_nearest_first(numeric_root, tmp_path):
    _, _, _, test_data, net, _ = build_run(numeric_root, "numbered", "NextId",
                                           {**TINY_RUN, "checkpoint_dir": str(tmp_path / "saved")})
    interaction = next(iter(test_data))[0]
    scores = net.full_sort_predict(interaction)
    written = net.written_id
    for row in range(len(interaction)):
        history = interaction["item_id_list"][row]
        newest = int(written[history[history > 0]].max())
        expected = [x for x in (newest + 1, newest + 2, newest + 3) if x <= written.max()]
        top = scores[row].topk(3).indices
        assert written[top].tolist()[: len(expected)] == expected
        seen = history[history > 0]
        assert (scores[row, seen] < scores[row].max()).all()  # a seen item never comes first
    torch.testing.assert_close(net.predict(interaction),
                               scores.gather(1, interaction["item_id"].unsqueeze(1)).squeeze(1))


def test_the_rule_finds_every_test_item_of_a_first_appearance_numbering(numeric_root, tmp_path):
    from recbole_hsuga.runner import run

    settings = {**TINY_RUN, "data_path": str(numeric_root), "checkpoint_dir": str(tmp_path / "saved"),
                "results_dir": str(tmp_path / "results")}
    result = run("NextId", "numbered", config_dict=settings)
    assert result["config"]["epochs"] == 1
    for protocol in ("full", "unseen"):  # each user's next item is the id after their newest one
        assert math.isclose(result["metrics"]["test"][protocol]["all"]["ndcg@10"], 1.0)


def test_non_numeric_ids_are_refused(tiny_root, tmp_path):
    with pytest.raises(InputError, match="text_ids: written needs numeric item ids: tiny.inter field item_id has 'i"):
        build_run(tiny_root, TINY_DATASET, "NextId", {**TINY_RUN, "checkpoint_dir": str(tmp_path / "saved")})


def test_permuted_ids_leave_the_rule_nothing(numeric_root, tmp_path):
    """The default re-indexing of text-id models: the same rule on permuted numbers misses the next item."""
    from recbole_hsuga.data.text_ids import text_id_numbers
    from recbole_hsuga.runner import run

    settings = {**TINY_RUN, "data_path": str(numeric_root), "checkpoint_dir": str(tmp_path / "saved"),
                "results_dir": str(tmp_path / "results"), "text_ids": "permuted"}
    result = run("NextId", "numbered", config_dict=settings)
    assert result["metrics"]["test"]["full"]["all"]["ndcg@10"] < 0.5
    _, train_data, _, _, _, _ = build_run(numeric_root, "numbered", "NextId",
                                          {**TINY_RUN, "checkpoint_dir": str(tmp_path / "saved")})
    dataset = train_data._dataset
    first, again = (text_id_numbers(dataset, "item_id", "permuted", 3) for _ in range(2))
    assert sorted(first[1:].tolist()) == list(range(1, dataset.item_num)) and (first == again).all()
    assert not (text_id_numbers(dataset, "item_id", "permuted", 4) == first).all()
    with pytest.raises(InputError, match="text_ids must be one of"):
        text_id_numbers(dataset, "item_id", "sorted", 0)

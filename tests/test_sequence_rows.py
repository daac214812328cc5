"""Sequence rows against RecBole's own prefix rows, on a tiny dataset with long and short users.

The reference is RecBole's real training split (``data_augmentation``'s prefix rows), not
a re-derivation: sequence rows must hold the same examples, lose none and never touch a
validation or test item; and with a fixed model the per-position loss equals the
prefix-row loss of the matching row.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from dataset_tools.formats.inter import write_sequences
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.sequence_loader import LAST_WINDOW, TARGET_SEQ, SequenceTrainDataLoader
from recbole_hsuga.data.sequence_rows import build_rows, window_starts
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError
from recbole_hsuga.position_loss import position_outputs, position_ranking_loss, sample_negatives
from recbole_hsuga.registry import get_model
from recbole_hsuga.runner import prepare_data

DATASET = "seqrows"
WINDOW = 6


@pytest.fixture(scope="module")
def raw_sequences() -> dict[str, list[str]]:
    """40 users with 3 to 16 interactions: some fit a window of 6 inputs, some need 2-3 windows."""
    rng = np.random.default_rng(3)
    return {f"u{u}": [f"i{int(rng.integers(0, 25))}" for _ in range(int(rng.integers(3, 17)))] for u in range(40)}


@pytest.fixture(scope="module")
def splits(tmp_path_factory, raw_sequences):
    root = tmp_path_factory.mktemp("seqrows")
    (root / DATASET).mkdir()
    write_sequences(root / DATASET / f"{DATASET}.inter", raw_sequences)
    config = HSUGAConfig(model="SASRec", dataset=DATASET, config_dict={
        "data_path": str(root), "checkpoint_dir": str(root / "saved"), "MAX_ITEM_LIST_LENGTH": WINDOW,
        "hidden_size": 16, "inner_size": 32, "n_layers": 1, "n_heads": 1, "loss_type": "CE",
        "hidden_dropout_prob": 0.0, "attn_dropout_prob": 0.0, "train_batch_size": 16, "device": "cpu",
        "use_gpu": False, "seed": 5, "state": "WARNING", "user_inter_num_interval": "[3,inf)"})
    dataset, train_data, valid_data, test_data = prepare_data(config)
    history = TrainingHistory.from_dataloaders(train_data, valid_data)
    return config, dataset, train_data, valid_data, test_data, history


@contextmanager
def config_value(config, key: str, value):
    """``config[key] = value`` for the block (the module's splits share one config)."""
    before = config[key]
    config[key] = value
    try:
        yield
    finally:
        config[key] = before


def _tokens(dataset, field, ids):
    return [str(t) for t in dataset.field2id_token[field][np.asarray(ids)]]


def prefix_examples(train_data) -> Counter:
    """RecBole's training rows as ``(user, context items, target)``."""
    inter = train_data._dataset.inter_feat
    seqs, lengths = inter["item_id_list"].numpy(), inter["item_length"].numpy()
    return Counter((int(u), tuple(seqs[r, : lengths[r]].tolist()), int(t))
                   for r, (u, t) in enumerate(zip(inter["user_id"].numpy(), inter["item_id"].numpy())))


def sequence_examples(rows) -> Counter:
    """Causal rows as ``(user, context items within the row, target)`` for every position with a target."""
    found = Counter()
    for r in range(len(rows)):
        for j in np.flatnonzero(rows.targets[r]):
            found[(int(rows.users[r]), tuple(rows.inputs[r, : j + 1].tolist()), int(rows.targets[r, j]))] += 1
    return found


def test_window_starts_cover_every_position_once():
    assert window_starts(5, 6, 3) == [(0, 0)]
    assert window_starts(6, 6, 3) == [(0, 0)]
    assert window_starts(7, 6, 3) == [(0, 0), (1, 6)]
    assert window_starts(13, 6, 3) == [(0, 0), (3, 6), (6, 9), (7, 12)]
    for n in range(1, 40):
        for stride in (1, 3, 6):
            spans = window_starts(n, 6, stride)
            owned = [p for start, owned_from in spans for p in range(owned_from, min(start + 6, n))]
            assert owned == list(range(n))
            last_start, _ = spans[-1]
            assert min(last_start + 6, n) == n  # the last window ends the sequence
            assert all(position - start >= 6 - stride for start, owned_from in spans[1:]
                       for position in range(owned_from, min(start + 6, n)))
    with pytest.raises(ValueError):
        window_starts(10, 6, 7)


def test_fitting_users_get_exactly_the_prefix_examples(splits):
    config, dataset, train_data, valid_data, _, history = splits
    rows = build_rows(history, "causal", WINDOW, 3)
    prefix, sequence = prefix_examples(train_data), sequence_examples(rows)
    fitting = {u for u in range(history.n_users) if 2 <= len(history.items_of(u)) <= WINDOW + 1}
    long_users = {u for u in range(history.n_users) if len(history.items_of(u)) > WINDOW + 1}
    assert fitting and long_users, "the fixture must hold both kinds of user"
    assert Counter({k: v for k, v in prefix.items() if k[0] in fitting}) == \
        Counter({k: v for k, v in sequence.items() if k[0] in fitting})
    assert all(rows.last_window[rows.users == u].sum() == 1 for u in fitting | long_users)


def test_long_users_train_every_target_exactly_once(splits):
    _, _, train_data, _, _, history = splits
    rows = build_rows(history, "causal", WINDOW, 3)
    long_users = [u for u in range(history.n_users) if len(history.items_of(u)) > WINDOW + 1]
    for user in long_users:
        items = history.items_of(user)
        mine = np.flatnonzero(rows.users == user)
        assert len(mine) > 1
        trained = Counter(int(t) for r in mine for t in rows.targets[r] if t)
        assert trained == Counter(items[1:].tolist())
        prefix_targets = Counter(int(t) for t in train_data._dataset.inter_feat["item_id"].numpy()[
            train_data._dataset.inter_feat["user_id"].numpy() == user])
        assert trained == prefix_targets
        last = mine[rows.last_window[mine]]
        assert len(last) == 1 and rows.inputs[last[0], rows.lengths[last[0]] - 1] == items[-2]


def test_no_validation_or_test_item_is_ever_trained_on(splits, raw_sequences):
    _, dataset, _, valid_data, test_data, history = splits
    for layout in ("causal", "cloze"):
        rows = build_rows(history, layout, WINDOW, 3)
        for user in range(1, history.n_users):
            token = _tokens(dataset, "user_id", [user])[0]
            raw = raw_sequences[token]
            mine = np.flatnonzero(rows.users == user)
            seen = []  # the user's row items in time order, each position once
            if layout == "causal":
                if len(mine):
                    first = mine[0]
                    seen = [int(rows.inputs[first, 0])] + [int(t) for r in mine for t in rows.targets[r] if t]
            else:
                seen = [int(i) for r in mine for i in rows.inputs[r, : rows.lengths[r]]]
            # RecBole keeps one training row per user, so a 3-interaction user has no
            # validation target and trains on its second item.
            expected = raw[:-2] if len(raw) >= 4 else raw[:-1]
            assert _tokens(dataset, "item_id", seen) == expected
    # The held-out targets RecBole evaluates on are the last two raw items of every user.
    for data, offset in ((valid_data, 2), (test_data, 1)):
        inter = data._dataset.inter_feat
        for user, item in zip(inter["user_id"].numpy(), inter["item_id"].numpy()):
            raw = raw_sequences[_tokens(dataset, "user_id", [user])[0]]
            assert _tokens(dataset, "item_id", [item])[0] == raw[len(raw) - offset]


def test_cloze_rows_hold_every_training_item_once(splits):
    _, _, _, _, _, history = splits
    rows = build_rows(history, "cloze", WINDOW)
    for user in range(1, history.n_users):
        mine = np.flatnonzero(rows.users == user)
        got = [int(i) for r in mine for i in rows.inputs[r, : rows.lengths[r]]]
        assert got == history.items_of(user).tolist()
        assert rows.lengths[mine].max() <= WINDOW
        assert rows.last_window[mine].sum() == 1 and rows.last_window[mine[-1]]


def test_per_position_loss_equals_prefix_row_loss(splits):
    """Fixed SASRec, no dropout, CE: each position's loss is its prefix row's loss."""
    config, dataset, train_data, _, _, history = splits
    torch.manual_seed(0)
    model = get_model("SASRec")(config, train_data._dataset).eval()
    rows = build_rows(history, "causal", WINDOW, 3)
    with torch.no_grad():
        outputs = position_outputs(model, torch.from_numpy(rows.inputs), torch.from_numpy(rows.lengths))
        logits = outputs @ model.item_embedding.weight.t()
        position_losses = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), torch.from_numpy(rows.targets).reshape(-1), reduction="none",
            ignore_index=0).reshape(rows.targets.shape)
        sequence_loss = {}
        for r in range(len(rows)):
            for j in np.flatnonzero(rows.targets[r]):
                key = (int(rows.users[r]), tuple(rows.inputs[r, : j + 1].tolist()), int(rows.targets[r, j]))
                sequence_loss.setdefault(key, float(position_losses[r, j]))
        inter = train_data._dataset.inter_feat
        prefix_out = model.forward(inter["item_id_list"], inter["item_length"])
        prefix_losses = torch.nn.functional.cross_entropy(
            prefix_out @ model.item_embedding.weight.t(), inter["item_id"], reduction="none")
        lengths = inter["item_length"].numpy()
        matched = 0
        for r, (user, target) in enumerate(zip(inter["user_id"].numpy(), inter["item_id"].numpy())):
            key = (int(user), tuple(inter["item_id_list"][r, : lengths[r]].tolist()), int(target))
            if key in sequence_loss:
                assert sequence_loss[key] == pytest.approx(float(prefix_losses[r]), abs=1e-5)
                matched += 1
        assert matched > 0.5 * len(inter)
        # The mean over positions is the loss the trainer optimises.
        mean = position_ranking_loss(outputs, torch.from_numpy(rows.targets), model.item_embedding.weight, "CE")
        assert float(mean) == pytest.approx(float(position_losses[rows.targets > 0].mean()), abs=1e-6)


@pytest.mark.parametrize("model_name", ["SASRec", "GRU4Rec"])
def test_last_position_output_is_recbole_forward(splits, model_name):
    config, _, train_data, _, _, _ = splits
    model_config = HSUGAConfig(model=model_name, dataset=DATASET, config_dict={
        **{key: config[key] for key in ("data_path", "MAX_ITEM_LIST_LENGTH", "device", "use_gpu", "state")},
        "embedding_size": 16, "hidden_size": 16, "inner_size": 32, "n_layers": 1, "n_heads": 1})
    model = get_model(model_name)(model_config, train_data._dataset).eval()
    inter = train_data._dataset.inter_feat[:32]
    with torch.no_grad():
        every = position_outputs(model, inter["item_id_list"], inter["item_length"])
        last = every[torch.arange(32), inter["item_length"] - 1]
        assert torch.allclose(last, model.forward(inter["item_id_list"], inter["item_length"]), atol=1e-6)
    assert "gather_indexes" not in model.__dict__  # the bypass is undone


def test_bpr_negatives_avoid_the_row():
    torch.manual_seed(0)
    targets = torch.tensor([[2, 3, 0], [4, 0, 0]])
    row_items = torch.tensor([[1, 2, 3, 0], [5, 4, 0, 0]])
    for _ in range(50):
        negatives = sample_negatives(targets, row_items, n_items=8)
        assert negatives.min() >= 1 and negatives.max() < 8
        assert not (negatives.unsqueeze(-1) == row_items.unsqueeze(1)).any()


def test_loader_serves_rows_in_shuffled_batches(splits):
    config, _, train_data, _, _, history = splits
    rows = build_rows(history, "causal", WINDOW, 3)
    loader = SequenceTrainDataLoader(config, train_data._dataset, rows)
    seen = []
    for batch in loader:
        assert batch["item_id_list"].shape[1] == WINDOW and batch[TARGET_SEQ].shape == batch["item_id_list"].shape
        assert "neg_item_id" not in batch.interaction
        seen.extend(zip(batch["user_id"].tolist(), batch[LAST_WINDOW].tolist(), batch["item_length"].tolist()))
    assert sorted(seen) == sorted(zip(rows.users.tolist(), rows.last_window.tolist(), rows.lengths.tolist()))


@pytest.mark.parametrize("unit,expected", [("prefix_rows", lambda n_rows, n_prefix: round(16 * n_rows / n_prefix)),
                                           ("rows", lambda n_rows, n_prefix: 16)])
def test_train_batch_size_counts_prefix_rows_or_rows(splits, unit, expected):
    config, _, train_data, _, _, history = splits
    rows = build_rows(history, "causal", WINDOW, 3)
    n_prefix = len(train_data._dataset)
    per_batch = expected(len(rows), n_prefix)
    assert per_batch < 16 or unit == "rows"  # a sequence row stands for several prefix rows
    with config_value(config, "train_batch_unit", unit):
        loader = SequenceTrainDataLoader(config, train_data._dataset, rows)
    sizes = [len(batch) for batch in loader]
    assert sizes[:-1] == [per_batch] * (len(sizes) - 1) and 0 < sizes[-1] <= per_batch
    assert sum(sizes) == len(rows)


def test_unknown_batch_unit_names_the_key(splits):
    config, _, train_data, _, _, history = splits
    with config_value(config, "train_batch_unit", "targets"), \
            pytest.raises(InputError, match="train_batch_unit must be one of .*'targets'"):
        SequenceTrainDataLoader(config, train_data._dataset, build_rows(history, "causal", WINDOW, 3))


def test_every_cloze_batch_has_a_counted_target(splits):
    """RecBole's masking does not count a mask at position 0; a batch whose masks all fell
    there would make BERT4Rec's loss 0/0. One-row batches of two items, half of them masked:
    RecBole's transform alone leaves about half the batches without a target."""
    _, _, train_data, _, _, history = splits
    root = Path(train_data.config["data_path"]).parent
    config = HSUGAConfig(model="BERT4Rec", dataset=DATASET, config_dict={
        "data_path": str(root), "checkpoint_dir": str(root / "saved"), "MAX_ITEM_LIST_LENGTH": 2, "hidden_size": 16,
        "inner_size": 32, "n_layers": 1, "n_heads": 1, "loss_type": "CE", "train_batch_size": 1,
        "train_batch_unit": "rows", "mask_ratio": 0.5, "ft_ratio": 0.0, "device": "cpu", "use_gpu": False, "seed": 5,
        "state": "WARNING", "user_inter_num_interval": "[3,inf)"})
    _, bert_train, _, _ = prepare_data(config)
    rows = build_rows(history, "cloze", 2, 1)
    two = rows.lengths == 2
    rows = type(rows)(*(np.ascontiguousarray(field[two]) for field in
                        (rows.users, rows.inputs, rows.lengths, rows.targets, rows.last_window)))
    loader = SequenceTrainDataLoader(config, bert_train._dataset, rows)
    drawn = [loader.transform(loader._dataset, loader._dataset[np.array([0])]) for _ in range(40)]
    assert any(not (batch["MASK_INDEX"] > 0).any() for batch in drawn), "the transform alone leaves some without"
    for _ in range(2):
        for batch in loader:
            assert len(batch) == 1 and (batch["MASK_INDEX"] > 0).any()

"""The RecBole compatibility shims: numpy aliases, anomaly detection, pandas, checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import recbole_hsuga
from recbole_hsuga import compat
from recbole_hsuga.config import HSUGAConfig


def test_numpy_aliases_that_recbole_uses_exist():
    for name in ("float_", "complex_", "unicode_", "bool8", "float", "int", "bool", "object", "str", "long"):
        assert hasattr(np, name), name
    assert np.float_ is np.float64


def test_anomaly_detection_is_off_after_importing_recbole_models():
    # Importing RecBole's SINE turns anomaly detection on at import time.
    import recbole.model.sequential_recommender.sine  # noqa: F401

    assert not torch.is_anomaly_enabled()
    recbole_hsuga.get_model("SINE")
    assert not torch.is_anomaly_enabled()
    torch.autograd.set_detect_anomaly(True)  # as a re-import would
    recbole_hsuga.get_model("SASRec")
    assert not torch.is_anomaly_enabled()


def test_pandas_3_is_refused(monkeypatch):
    monkeypatch.setattr(pd, "__version__", "3.0.0")
    with pytest.raises(ImportError, match="fillna"):
        compat.check_pandas()


def test_recbole_fills_missing_values_in_atomic_files(tmp_path):
    """RecBole's chained in-place fillna must really fill (it silently does not on pandas 3)."""
    folder = tmp_path / "gaps"
    folder.mkdir()
    rows = ["user_id:token\titem_id:token\ttimestamp:float"]
    rows += [f"{u}\t{i}\t{u * 10 + i}" for u in range(1, 6) for i in range(1, 6)]
    (folder / "gaps.inter").write_text("\n".join(rows) + "\n")
    (folder / "gaps.item").write_text(
        "item_id:token\tprice:float\tbrand:token\ttags:token_seq\n"
        "1\t10.0\tA\tx y\n2\t\tB\t\n3\t30.0\t\tz\n4\t20.0\tA\tx\n5\t\tB\ty\n"
    )
    from recbole.data import create_dataset

    config = HSUGAConfig(
        model="SASRec",
        dataset="gaps",
        config_dict={
            "data_path": str(tmp_path),
            "load_col": {"inter": ["user_id", "item_id", "timestamp"], "item": ["item_id", "price", "brand", "tags"]},
            "user_inter_num_interval": None,
            "state": "WARNING",
        },
    )
    dataset = create_dataset(config)
    item_feat = dataset.item_feat  # a DataFrame until data_preparation converts it
    prices = np.asarray(item_feat["price"], dtype=float)
    assert not np.isnan(prices).any()
    row_of = {int(item): row for row, item in enumerate(np.asarray(item_feat["item_id"]))}
    rows = {token: row_of[dataset.token2id("item_id", token)] for token in "12345"}
    known = prices[[rows[t] for t in "134"]]
    filled = prices[[rows[t] for t in "25"]]
    np.testing.assert_allclose(filled, known.mean())  # RecBole imputes the mean
    assert int(np.asarray(item_feat["brand"])[rows["3"]]) == 0  # missing token -> [PAD]


def test_recbole_checkpoints_load_with_their_config(tmp_path):
    config = HSUGAConfig(model="SASRec", dataset="ml-100k", config_dict={"state": "WARNING"})
    path = tmp_path / "ckpt.pth"
    torch.save({"config": config, "state_dict": {}}, path)
    with pytest.raises(Exception):
        torch.load(path)  # torch's safe default rejects the pickled Config
    checkpoint = compat.load_recbole_checkpoint(path)
    assert checkpoint["config"]["model"] == "SASRec"
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        compat.load_recbole_checkpoint(tmp_path / "missing.pth")

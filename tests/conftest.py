"""Shared fixtures: tiny datasets the tests make themselves, and fast run settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TOY_DATASET = "toy-beauty"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~20 s (loads an LLM); part of the default run")


@pytest.fixture(scope="session")
def toy_data_path(tmp_path_factory) -> Path:
    """A prepared synthetic dataset ``toy-beauty`` (300 users): ``<path>/toy-beauty/*.inter``."""
    from dataset_tools.prepare import prepare_dataset
    from dataset_tools.spec import load_dataset_spec
    from dataset_tools.toy import make_toy_raw

    root = tmp_path_factory.mktemp("toy")
    raw = make_toy_raw(root / "raw", n_users=300, n_items=180, seed=0)
    prepare_dataset(load_dataset_spec(TOY_DATASET), raw_dir=raw, out_root=root / "data")
    return root / "data"


@pytest.fixture
def fast_settings(toy_data_path, tmp_path) -> dict:
    """Settings for a seconds-long run on the toy dataset, writing only under tmp_path."""
    return {
        "data_path": str(toy_data_path),
        "checkpoint_dir": str(tmp_path / "saved"),
        "results_dir": str(tmp_path / "results"),
        "epochs": 1,
        "train_batch_size": 256,
        "eval_batch_size": 256,
        "MAX_ITEM_LIST_LENGTH": 20,
        "show_progress": False,
        "state": "WARNING",
    }

"""Shared fixtures: tiny datasets the tests make themselves, and fast run settings."""

from __future__ import annotations

import importlib
import importlib.util
import os
import random
import sys
from collections.abc import Callable, Mapping, Sequence
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


@pytest.fixture
def write_inter() -> Callable[..., Path]:
    """Writes a small ``.inter`` file with ``dataset_tools.formats.inter``'s writer.

    ``write_inter(path, {user: [item, ...]})`` lays it out as ``prepare`` does (a user's
    rows contiguous, timestamp = global row number); ``shuffle_seed`` then shuffles the
    rows, timestamps kept, so that file order is not time order.
    ``write_inter(path, rows=[(user, item, timestamp), ...])`` writes rows as given.
    Returns ``path``.
    """
    from dataset_tools.formats.inter import write_inter_rows

    def write(
        path: Path,
        sequences: Mapping[str, Sequence[str]] | None = None,
        *,
        rows: Sequence[tuple[str, str, float]] | None = None,
        shuffle_seed: int | None = None,
    ) -> Path:
        if (sequences is None) == (rows is None):
            raise TypeError("write_inter: give either sequences or rows")
        if rows is None:
            flat = [(user, item) for user, items in sequences.items() for item in items]
            rows = [(user, item, stamp) for stamp, (user, item) in enumerate(flat, start=1)]
        rows = list(rows)
        if shuffle_seed is not None:
            random.Random(shuffle_seed).shuffle(rows)
        write_inter_rows(path, rows)
        return path

    return write


@pytest.fixture(scope="session")
def toy_data_path(tmp_path_factory) -> Path:
    """A prepared synthetic dataset ``toy-beauty`` (300 users): ``<path>/toy-beauty/*.inter``."""
    from dataset_tools.prepare.dataset import prepare_dataset
    from dataset_tools.spec import load_dataset_spec
    from dataset_tools.toy.raw import make_toy_raw

    root = tmp_path_factory.mktemp("toy")
    raw = make_toy_raw(root / "raw", n_users=300, n_items=180, seed=0)
    prepare_dataset(load_dataset_spec(TOY_DATASET), raw_dir=raw, out_root=root / "data")
    return root / "data"


@pytest.fixture(scope="session")
def toy_with_vectors(tmp_path_factory, toy_data_path) -> Path:
    """The toy dataset plus random user and item vector files (every user and item), in a folder of its own."""
    import shutil

    import numpy as np

    from dataset_tools.formats.features import ITEM_FIELDS, write_feature_file
    from dataset_tools.formats.inter import read_user_sequences

    root = tmp_path_factory.mktemp("seqtrain")
    folder = root / TOY_DATASET
    shutil.copytree(Path(toy_data_path) / TOY_DATASET, folder)
    inter = folder / f"{TOY_DATASET}.inter"
    users = list(read_user_sequences(inter))
    vectors = np.random.default_rng(0).normal(size=(len(users), 8)).astype(np.float32)
    write_feature_file(folder / f"{TOY_DATASET}.useremb", users, vectors, {"extractor": "test"})
    items = sorted({item for sequence in read_user_sequences(inter).values() for item in sequence})
    item_vectors = np.random.default_rng(1).normal(size=(len(items), 24)).astype(np.float32)
    write_feature_file(folder / f"{TOY_DATASET}.itememb", items, item_vectors, {"extractor": "test"}, fields=ITEM_FIELDS)
    return root


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


#: Settings of a seconds-long run of a tiny model on a tiny dataset (tests override what they need).
#: Dataset name of :func:`tiny_root`.
TINY_DATASET = "tiny"


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """``<root>/tiny/tiny.inter``: 40 users with 5-14 interactions over 30 items (seeded)."""
    import numpy as np

    from dataset_tools.formats.inter import write_sequences

    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    (root / TINY_DATASET).mkdir()
    sequences = {f"u{u}": [f"i{int(rng.integers(0, 30))}" for _ in range(int(rng.integers(5, 15)))]
                 for u in range(40)}
    write_sequences(root / TINY_DATASET / f"{TINY_DATASET}.inter", sequences)
    return root


TINY_RUN = {
    "epochs": 1, "train_batch_size": 32, "eval_batch_size": 64, "MAX_ITEM_LIST_LENGTH": 6, "hidden_size": 8,
    "inner_size": 16, "embedding_size": 8, "n_layers": 1, "n_heads": 1, "show_progress": False, "device": "cpu",
    "use_gpu": False, "seed": 5, "eval_sampled_negatives": 5, "state": "WARNING",
}


def build_run(root: Path, dataset: str, model: str, settings: dict) -> tuple:
    """``(config, train_data, valid_data, test_data, model, trainer)`` for ``model`` on
    ``<root>/<dataset>``, built the way ``recbole_hsuga.runner.run`` builds them."""
    from recbole_hsuga.config import HSUGAConfig
    from recbole_hsuga.registry import get_trainer
    from recbole_hsuga.runner import prepare_data

    torch.set_num_threads(1)
    config = HSUGAConfig(model=model, dataset=dataset, config_dict={"data_path": str(root), **settings})
    _, train_data, valid_data, test_data = prepare_data(config)
    torch.manual_seed(0)
    net = config.model_class(config, train_data._dataset)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"], config.model_class)(config, net)
    return config, train_data, valid_data, test_data, net, trainer


def assert_reload_scores_the_same(config, train_data, test_data, net, checkpoint: dict, agree_where=None,
                                  **tolerance) -> tuple:
    """A fresh model loaded from ``checkpoint`` scores a test batch as ``net`` (loaded from the
    same checkpoint) does, and its ``predict`` agrees with its full-sort scores at the targets
    (within ``tolerance``: ``rtol``/``atol`` of ``torch.testing.assert_close``); with
    ``agree_where`` (target scores ``[B]`` -> bool ``[B]``) only on the rows it selects, for a
    model whose full-sort scores are exact only for the items it reached (ISRF's beam).

    Returns ``(reloaded model, interaction, full-sort scores)`` for further checks.
    """
    reloaded = config.model_class(config, train_data._dataset)
    reloaded.load_state_dict(checkpoint["state_dict"])
    net.load_state_dict(checkpoint["state_dict"])
    net.eval(), reloaded.eval()
    interaction = next(iter(test_data))[0]
    with torch.no_grad():
        scores = reloaded.full_sort_predict(interaction)
        assert scores.shape == (len(interaction), train_data._dataset.item_num)
        torch.testing.assert_close(scores, net.full_sort_predict(interaction))
        at_target = scores.gather(1, interaction["item_id"].unsqueeze(1)).squeeze(1)
        rows = torch.ones_like(at_target, dtype=torch.bool) if agree_where is None else agree_where(at_target)
        torch.testing.assert_close(reloaded.predict(interaction)[rows], at_target[rows], **tolerance)
    return reloaded, interaction, scores


def view_scores_module():
    """``benchmarks/view_scores.py`` imported as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("view_scores", REPO_ROOT / "benchmarks" / "view_scores.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))  # for its `from common import ...`
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))
    return module


def score_terms_of(net, test_data) -> tuple[torch.Tensor, torch.Tensor]:
    """``benchmarks/view_scores.py``'s ID and semantic terms of ``net``'s full-sort score on
    one test batch, after checking that they add up to the model's own score: the script
    tests a trained model with each term, so the terms must be its score split in two.

    Returns ``(id_term, semantic_term)``, ``[B, n_items]`` each.
    """
    view_scores = view_scores_module()
    assert view_scores.split_score(net)
    net.eval()
    interaction = next(iter(test_data))[0]
    with torch.no_grad():
        id_term, semantic_term = (view_scores.view_scorer(net, view)(interaction) for view in ("id", "semantic"))
        torch.testing.assert_close(id_term + semantic_term, net.full_sort_predict(interaction))
    return id_term, semantic_term


@pytest.fixture
def import_benchmark(monkeypatch) -> Callable[[str], object]:
    """``import_benchmark("run_progress")``: a script of ``benchmarks/``, imported as the scripts
    import each other (their folder on the path, removed again after the test)."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module

"""benchmarks/history_profile.py: test NDCG@10 by training-history length, from rank files."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from recbole_hsuga.errors import InputError


@pytest.fixture
def profile(import_benchmark):
    return import_benchmark("history_profile")


def write_data(root):
    folder = root / "data" / "shop"
    folder.mkdir(parents=True)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    t = 0
    # training histories (all but the last two): u1 3 items, u2 6, u3 11
    for user, n_items in (("u1", 5), ("u2", 8), ("u3", 13)):
        for item in range(n_items):
            t += 1
            lines.append(f"{user}\ti{item}\t{t}")
    (folder / "shop.inter").write_text("\n".join(lines) + "\n")
    return root / "data"


def write_run(folder, name, seed, ranks):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}-seed{seed}.json").write_text(json.dumps({"model": name, "seed": seed}))
    np.savez(folder / f"{name}-seed{seed}.ranks.npz", users=np.array(["u3", "u1", "u2"]),
             **{protocol: np.array(values) for protocol, values in ranks.items()})


def test_buckets_average_seeds_user_by_user_and_count_history_above(profile, tmp_path, capsys):
    data = write_data(tmp_path)
    # users in file order u3, u1, u2
    write_run(tmp_path / "base", "A", 42, {"full": [20, 0, 1], "unseen": [5, 0, 0]})
    write_run(tmp_path / "base", "A", 43, {"full": [20, 0, 3], "unseen": [5, 0, 2]})
    write_run(tmp_path / "other", "B", 42, {"full": [0, 1, 1]})
    table = tmp_path / "profile.csv"
    profile.main(["--dataset=shop", f"--data_path={data}", "--run", f"A={tmp_path}/base/*.json",
                  "--run", f"B={tmp_path}/other/*.json", "--csv", str(table)])
    rows = {(r["model"], r["history"]): r for r in csv.DictReader(table.open())}
    ndcg = lambda rank: 1 / math.log2(rank + 2)  # noqa: E731 (0-based rank)
    assert float(rows["A", "3-5"]["ndcg10_full"]) == pytest.approx(1.0)
    assert float(rows["A", "6-10"]["ndcg10_full"]) == pytest.approx((ndcg(1) + ndcg(3)) / 2, abs=1e-6)
    assert float(rows["A", "11-20"]["ndcg10_full"]) == 0.0  # rank 20 is outside the top 10
    # own history items above the target: full rank - unseen rank, averaged over seeds
    assert float(rows["A", "11-20"]["history_above"]) == 15.0
    assert float(rows["A", "6-10"]["history_above"]) == 1.0
    assert float(rows["A", "all"]["ndcg10_unseen"]) == pytest.approx((1 + (ndcg(0) + ndcg(2)) / 2 + ndcg(5)) / 3,
                                                                      abs=1e-6)
    assert rows["A", "all"]["seeds"] == "42,43" and rows["A", "11-20"]["users"] == "1"
    # B has no unseen ranks: those cells stay empty, and its change is against A
    assert rows["B", "all"]["ndcg10_unseen"] == "" and rows["B", "all"]["history_above"] == ""
    assert rows["B", "3-5"]["delta_pct_full"] == f"{100 * (ndcg(1) - 1):+.1f}"
    assert "| B (42) | 11-20 | 1 | 1.0000 |" in capsys.readouterr().out


def test_a_run_without_rank_files_or_matches_is_named(profile, tmp_path):
    data = write_data(tmp_path)
    with pytest.raises(InputError, match=r"--run A=.*nothing\*\.json: no result file matches"):
        profile.main(["--dataset=shop", f"--data_path={data}", "--run", f"A={tmp_path}/nothing*.json"])
    (tmp_path / "lone").mkdir()
    (tmp_path / "lone" / "A-seed42.json").write_text(json.dumps({"model": "A", "seed": 42}))
    with pytest.raises(InputError, match=r"A-seed42\.json: no rank file beside it"):
        profile.main(["--dataset=shop", f"--data_path={data}", "--run", f"A={tmp_path}/lone/*.json"])

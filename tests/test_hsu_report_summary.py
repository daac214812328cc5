"""The HSU run report: operation counts and what each selected operation's executed list did."""

from __future__ import annotations

from dataset_tools.report.summary import build_report, edit_effect, first_stage_kept, format_report


def stage(operation: str, interests: list[str]) -> dict:
    return {"operation": operation, "interests": interests, "fallback": None, "calls": 1}


def test_edit_effects_compare_each_stage_with_the_one_before():
    assert edit_effect(["a", "b"], ["b", "a"]) == "unchanged"
    assert edit_effect(["a"], ["a", "b"]) == "added"
    assert edit_effect(["a", "b"], ["a"]) == "removed"
    assert edit_effect(["a"], ["b"]) == "removed and added"
    trajectories = [
        {"complete": True, "n_stages": 3, "stages": [stage("summary", ["a", "b"]), stage("delete", ["a", "b"]),
                                                     stage("delete", ["a"])]},
        {"complete": True, "n_stages": 2, "stages": [stage("summary", ["a"]), stage("add", ["a", "c"])]},
    ]
    report = build_report(trajectories)
    assert report["operations"] == {"summary": 2, "add": 1, "delete": 2, "update": 0, "retain": 0}
    assert report["edit_effects"]["delete"] == {"unchanged": 1, "added": 0, "removed": 1, "removed and added": 0}
    assert report["edit_effects"]["add"]["added"] == 1 and sum(report["edit_effects"]["update"].values()) == 0
    assert "delete 1/0/1/0" in format_report(report) and "update" not in format_report(report).split("\n")[2]


def test_first_stage_kept_counts_users_whose_final_list_is_their_first():
    trajectories = [
        # deleted then added back: ends with the first list, last changed at its final stage
        {"stages": [stage("summary", ["a", "b"]), stage("delete", ["a"]), stage("add", ["b", "a"])]},
        # never changed after stage 1: two stages since the last change (none)
        {"stages": [stage("summary", ["a"]), stage("retain", ["a"]), stage("delete", ["a"])]},
        # changed at stage 2, then kept
        {"stages": [stage("summary", ["a"]), stage("update", ["c"]), stage("retain", ["c"])]},
        {"stages": [stage("summary", ["a"])]},  # one stage: not counted
    ]
    kept = first_stage_kept(trajectories)
    assert kept["users"] == 3 and kept["kept"] == 2
    assert kept["mean_stages_since_last_change"] == (0 + 2 + 1) / 3
    line = format_report(build_report([{**t, "complete": True, "n_stages": len(t["stages"])} for t in trajectories]))
    assert "2 of 3 with more than one stage (67%)" in line
    single = [{**trajectories[3], "complete": True, "n_stages": 1}]
    assert "none has more than one stage" in format_report(build_report(single))
    older = {key: value for key, value in build_report(single).items() if key != "first_stage_kept"}
    assert "not in this report (--rebuild adds it)" in format_report(older)

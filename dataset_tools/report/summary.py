"""Summaries of a run: operation frequencies, parse failures, readable trajectories."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

OPERATION_ORDER = ("summary", "add", "delete", "update", "retain")
#: What an edit stage did to the previous stage's interest list (compared as sets).
EDIT_EFFECTS = ("unchanged", "added", "removed", "removed and added")


def edit_effect(before: Sequence[str], after: Sequence[str]) -> str:
    """One of :data:`EDIT_EFFECTS` for an interest list ``before`` -> ``after`` (order ignored)."""
    removed, added = bool(set(before) - set(after)), bool(set(after) - set(before))
    return EDIT_EFFECTS[added + 2 * removed]


def edit_effects(trajectories: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per selected operation, how often its executed list kept, grew, shrank or changed the
    previous one: a small model may select Delete and then write the same list back."""
    counts: dict[str, Counter] = {op: Counter() for op in OPERATION_ORDER[1:]}
    for trajectory in trajectories:
        stages = trajectory["stages"]
        for previous, stage in zip(stages, stages[1:]):
            if stage["operation"] in counts:
                counts[stage["operation"]][edit_effect(previous["interests"], stage["interests"])] += 1
    return {op: {effect: c.get(effect, 0) for effect in EDIT_EFFECTS} for op, c in counts.items()}


def first_stage_kept(trajectories: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Of the users with more than one stage, how many end with their first stage's interest list
    (compared as sets): their final text then reads only the first stage's items, however many
    stages followed. Also the mean number of stages after the last one that changed the list."""
    edited = [t["stages"] for t in trajectories if len(t["stages"]) > 1]
    kept, since_change = 0, 0
    for stages in edited:
        sets = [set(stage["interests"]) for stage in stages]
        kept += sets[-1] == sets[0]
        last_change = max((k for k in range(1, len(sets)) if sets[k] != sets[k - 1]), default=0)
        since_change += len(sets) - 1 - last_change
    return {"users": len(edited), "kept": kept,
            "mean_stages_since_last_change": since_change / len(edited) if edited else 0.0}


def build_report(trajectories: Sequence[Mapping[str, Any]], invocation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Aggregate a run's trajectories (current stage chain of each user).

    Args:
        trajectories: rows of ``trajectories.jsonl``.
        invocation: stats of the pipeline invocation that wrote them (``RunStats.as_dict``).

    Returns:
        A JSON-able dict: user and stage counts, operation counts and frequencies (over
        stages k >= 2 for edits), what each selected operation's executed list did to the
        previous one (``edit_effects``), how many users end with their first stage's list
        (``first_stage_kept``), retries, parse failures and fallbacks by kind, token
        and latency totals and per-stage means.
    """
    stages = [s for t in trajectories for s in t["stages"]]
    operations = Counter(s["operation"] for s in stages)
    edit_total = sum(n for op, n in operations.items() if op != "summary")
    fallbacks = Counter(s["fallback"] for s in stages if s.get("fallback"))
    calls = sum(s.get("calls", 0) for s in stages)
    prompt_tokens = sum(s.get("prompt_tokens", 0) for s in stages)
    completion_tokens = sum(s.get("completion_tokens", 0) for s in stages)
    latency = sum(s.get("latency_s", 0.0) for s in stages)
    report: dict[str, Any] = {
        "users": len(trajectories),
        "users_complete": sum(1 for t in trajectories if t["complete"]),
        "users_without_stages": sum(1 for t in trajectories if not t["n_stages"]),
        "stages": len(stages),
        "operations": {op: operations.get(op, 0) for op in OPERATION_ORDER},
        "edit_frequencies": {
            op: (operations.get(op, 0) / edit_total if edit_total else 0.0) for op in OPERATION_ORDER[1:]
        },
        "edit_effects": edit_effects(trajectories),
        "first_stage_kept": first_stage_kept(trajectories),
        "llm_calls": calls,
        "retries": sum(s.get("retries", 0) for s in stages),
        "parse_failures": sum(s.get("parse_failures", 0) for s in stages),
        "parse_failure_rate": (sum(s.get("parse_failures", 0) for s in stages) / calls) if calls else 0.0,
        "fallbacks": dict(fallbacks),
        "fallback_rate": (sum(fallbacks.values()) / len(stages)) if stages else 0.0,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "mean_prompt_tokens_per_stage": prompt_tokens / len(stages) if stages else 0.0,
        "mean_completion_tokens_per_stage": completion_tokens / len(stages) if stages else 0.0,
        "llm_latency_s": round(latency, 3),
        "mean_latency_s_per_stage": latency / len(stages) if stages else 0.0,
    }
    if invocation is not None:
        report["last_invocation"] = dict(invocation)
    return report


def format_report(report: Mapping[str, Any]) -> str:
    """The report as a few readable lines."""
    lines = [
        f"users: {report['users']} ({report['users_complete']} complete), stages: {report['stages']}, "
        f"LLM calls: {report['llm_calls']}",
        "operations: " + ", ".join(
            f"{op} {n}" + (f" ({report['edit_frequencies'][op]:.0%})" if op != "summary" else "")
            for op, n in report["operations"].items()
        ),
        "executed edits (selected operation: unchanged/added/removed/both): " + ", ".join(
            f"{op} {'/'.join(str(n) for n in effects.values())}"
            for op, effects in (report.get("edit_effects") or {}).items() if any(effects.values())
        ),
        _first_stage_line(report.get("first_stage_kept")),
        f"parse failures: {report['parse_failures']} ({report['parse_failure_rate']:.1%} of calls), "
        f"retries: {report['retries']}, fallbacks: {report['fallbacks'] or 0} "
        f"({report['fallback_rate']:.1%} of stages)",
        f"tokens per stage: {report['mean_prompt_tokens_per_stage']:.0f} prompt, "
        f"{report['mean_completion_tokens_per_stage']:.0f} generated; "
        f"latency per stage {report['mean_latency_s_per_stage']:.2f} s",
    ]
    return "\n".join(lines)


def _first_stage_line(kept: Mapping[str, float] | None) -> str:
    if kept is None:  # a report written before the figure existed
        return "users ending with their first stage's interests: not in this report (--rebuild adds it)"
    if not kept["users"]:
        return "users ending with their first stage's interests: none has more than one stage"
    return (f"users ending with their first stage's interests: {kept['kept']} of {kept['users']} with more than "
            f"one stage ({kept['kept'] / kept['users']:.0%}); the list last changed "
            f"{kept['mean_stages_since_last_change']:.1f} stages before the last on average")


def _cell(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def format_trajectory(
    trajectory: Mapping[str, Any], item_text: Mapping[str, Mapping[str, Any]] | None = None, width: int = 34
) -> str:
    """One user's trajectory as a text table (columns as in the paper's Table 6).

    Args:
        trajectory: a row of ``trajectories.jsonl``.
        item_text: item fields, to show titles instead of ids.
        width: width of each wide column.
    """
    headers = ["Stage", "Stage interactions", "Operation", "LLM explanation", "Interests"]
    widths = [5, width, 10, width, width]
    rows = []
    for stage in trajectory["stages"]:
        titles = []
        for item in stage["items"]:
            title = ((item_text or {}).get(item) or {}).get("title") or f"item {item}"
            titles.append(f"- {title}")
        operation = stage["operation"] + (f" ({stage['fallback']} fallback)" if stage.get("fallback") else "")
        cells = [
            [str(stage["stage"])],
            [line for t in titles for line in _cell(t, widths[1])],
            _cell(operation, widths[2]),
            _cell(stage.get("explanation") or "", widths[3]),
            [line for i in stage["interests"] for line in _cell(f"- {i}", widths[4])],
        ]
        rows.append(cells)
    rule = "-+-".join("-" * w for w in widths)
    out = [f"user {trajectory['user']}: {len(trajectory['stages'])}/{trajectory['n_stages']} stages, "
           f"{trajectory['engine']} {trajectory['model']}, prompts {trajectory['prompt_version']}",
           rule, " | ".join(h.ljust(w) for h, w in zip(headers, widths)), rule]
    for cells in rows:
        height = max(len(c) for c in cells)
        for line in range(height):
            out.append(" | ".join((c[line] if line < len(c) else "").ljust(w) for c, w in zip(cells, widths)))
        out.append(rule)
    return "\n".join(out)

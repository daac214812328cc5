"""The study's compact Markdown table: one row per model, mean ± std over seeds per protocol and group."""

from __future__ import annotations

from recbole_hsuga.reporting.collect import Study
from recbole_hsuga.reporting.stats import Cell, cell, delta

#: protocols in column order (those no run measured are left out).
PROTOCOLS = ("full", "unseen", "sampled")
#: what each protocol ranks the target against (the table's legend).
PROTOCOL_NOTES = {"full": "ranked among all items", "unseen": "among the items the user has not interacted with",
                  "sampled": "among sampled negatives (100 by default)"}
#: user groups shown per protocol, and their column titles.
GROUPS = (("all", "all"), ("tail_users", "tail users"), ("tail_items", "tail items"))
#: the group the Δ% column compares.
DELTA_GROUP = "all"
DIGITS = 4


def present_protocols(study: Study, split: str, metric: str) -> list[str]:
    """The protocols, in :data:`PROTOCOLS` order, that at least one run of ``study`` measured."""
    return [protocol for protocol in PROTOCOLS
            if any(cell(model, split, protocol, DELTA_GROUP, metric) is not None for model in study.models)]


def _format_cell(value: Cell | None, best: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value.mean:.{DIGITS}f}"
    if value.n > 1:
        text += f" ± {value.std:.{DIGITS}f}"
    if best is not None and round(value.mean, DIGITS) == round(best, DIGITS):
        text = f"**{text}**"
    return text


def render_table(study: Study, baseline: str, split: str = "test", metric: str = "ndcg@10") -> str:
    """The Markdown table (header, rows, legend) of ``study`` against the model ``baseline``."""
    base_model = study.model(baseline)
    protocols = present_protocols(study, split, metric)
    label = metric.upper().replace("HIT", "HR")
    header = ["model", "seeds"]
    for protocol in protocols:
        header += [f"{protocol}: {title}" for _, title in GROUPS] + [f"{protocol}: Δ% ({DELTA_GROUP})"]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|" + "---:|" * (len(header) - 2)]
    cells = {(model.name, protocol, group): cell(model, split, protocol, group, metric)
             for model in study.models for protocol in protocols for group, _ in GROUPS}
    best = {}
    for protocol in protocols:
        for group, _ in GROUPS:
            means = [c.mean for (name, p, g), c in cells.items() if p == protocol and g == group and c is not None]
            best[protocol, group] = max(means) if means else None
    for model in study.models:
        row = [model.name if model is not base_model else f"{model.name} (baseline)", str(len(model.seeds))]
        for protocol in protocols:
            row += [_format_cell(cells[model.name, protocol, group], best[protocol, group]) for group, _ in GROUPS]
            mine, base = cells[model.name, protocol, DELTA_GROUP], cells[base_model.name, protocol, DELTA_GROUP]
            change = delta(mine, base) if model is not base_model and mine is not None and base is not None else None
            row.append("" if change is None else f"{change.percent:+.1f}%{' ' + change.marker if change.marker else ''}")
        lines.append("| " + " | ".join(row) + " |")
    legend = (f"{label} on the {split} split, mean ± std over seeds (sample std; no ± with one seed); "
              f"**bold**: best in its column. Δ%: change of the {DELTA_GROUP}-users {label} against {base_model.name}, "
              "over the seeds both have; † p < 0.05, ‡ p < 0.01 (paired t-test over seeds, only with ≥ 2 shared seeds). "
              "Protocols: " + "; ".join(f"{p} = {PROTOCOL_NOTES[p]}" for p in protocols) + ". Tail users / tail "
              "items: users outside the most active ones / users whose target is outside the most popular items.")
    return "\n".join(lines) + "\n\n" + legend + "\n"

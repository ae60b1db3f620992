"""The self-contained HTML fleet report: inline CSS and an inline SVG chart, no external URLs,
so it renders anywhere without a network."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import jinja2

from mgmt.health.aggregate import PHASES
from mgmt.report.fleet import COUNT_KEYS, COUNT_TITLES

COLORS = {
    "Ready": "#2e7d32", "Degraded": "#f9a825", "Unreachable": "#c62828", "Failed": "#6a1b9a",
    "Provisioning": "#1565c0", "Pending": "#90a4ae", "Deleting": "#6d4c41",
}


def chart(item: dict) -> list[dict]:
    """Donut segments (percent of the circle, offset from 12 o'clock) of members by phase."""
    counts: dict[str, int] = {}
    for row in item["members"]:
        counts[row["phase"]] = counts.get(row["phase"], 0) + 1
    total, done, segments = sum(counts.values()), 0.0, []
    for phase in PHASES:
        if counts.get(phase):
            share = 100 * counts[phase] / total
            segments.append({"phase": phase, "count": counts[phase], "color": COLORS[phase],
                             "share": share, "offset": 25 - done})
            done += share
    return segments


def to_html(items: list[dict], generated: str | None = None) -> str:
    env = jinja2.Environment(autoescape=True)
    template = env.from_string(resources.files("mgmt.report").joinpath("fleet.html.j2").read_text())
    return template.render(
        items=[{**item, "chart": chart(item)} for item in items], colors=COLORS,
        count_keys=COUNT_KEYS, count_titles=COUNT_TITLES,
        generated=generated or datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"))

"""A Fleet's states over time, from the controller's record in the Fleet's status
(`status.history`: the counts each time they changed, the last 48 changes), drawn as steps up to
now. The chart is an inline SVG drawn on the server (no script, no style attribute)."""

from __future__ import annotations

import time
from datetime import datetime

WIDTH, HEIGHT, PAD = 640, 160, 28
SERIES = (("ready", "#1a7f37"), ("provisioning", "#0b57d0"), ("degraded", "#7d4e00"),
          ("unreachable", "#b3261e"), ("deleting", "#6d4c41"))


def _changes(fleet: dict) -> list[tuple[float, dict[str, int]]]:
    changes = []
    for entry in (fleet.get("status") or {}).get("history") or []:
        try:
            at = datetime.fromisoformat(str(entry["time"])).timestamp()
        except (KeyError, ValueError):
            continue
        changes.append((at, {key: int(entry.get(key) or 0) for key, _ in SERIES}))
    return sorted(changes, key=lambda change: change[0])


def _steps(changes: list[tuple[float, dict[str, int]]], now: float) -> list[tuple[float, dict[str, int]]]:
    """Each change as a vertical step: the old counts up to its time, the new ones from it."""
    points = []
    for index, (at, counts) in enumerate(changes):
        if index:
            points.append((at, changes[index - 1][1]))
        points.append((at, counts))
    points.append((max(now, changes[-1][0]), changes[-1][1]))
    return points


def chart(fleet: dict, now: float | None = None) -> dict | None:
    """Polylines (SVG points) per state, scaled to the chart; None before the controller recorded any."""
    changes = _changes(fleet)
    if not changes:
        return None
    points = _steps(changes, time.time() if now is None else now)
    start, end = points[0][0], points[-1][0]
    span = max(end - start, 1e-6)
    top = max(1, max(max(counts.values()) for _, counts in points))

    def x(at: float) -> float:
        return round(PAD + (at - start) / span * (WIDTH - 2 * PAD), 1)

    def y(value: int) -> float:
        return round(HEIGHT - PAD - value / top * (HEIGHT - 2 * PAD), 1)

    lines = [{"state": key, "color": color, "last": points[-1][1][key],
              "points": " ".join(f"{x(at)},{y(counts[key])}" for at, counts in points)}
             for key, color in SERIES if any(counts[key] for _, counts in points)]
    return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "top": top, "lines": lines,
            "minutes": round(span / 60, 1), "samples": len(changes), "y_top": y(top), "y_zero": y(0)}

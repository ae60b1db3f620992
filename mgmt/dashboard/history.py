"""A Fleet's states over time, as this dashboard saw them: the controller keeps no probe history,
so every Fleet status the dashboard reads (pages, live refreshes) is a sample, kept in memory
while it runs. The chart is an inline SVG drawn on the server (no script, no style attribute)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

SAMPLES = 720                 # per Fleet: an hour at one sample every 5 s
WIDTH, HEIGHT, PAD = 640, 160, 28
SERIES = (("ready", "#1a7f37"), ("provisioning", "#0b57d0"), ("degraded", "#7d4e00"),
          ("unreachable", "#b3261e"), ("deleting", "#6d4c41"))


@dataclass(frozen=True)
class Sample:
    at: float
    counts: dict[str, int]


class History:
    def __init__(self, clock=time.time):
        self.clock = clock
        self.fleets: dict[tuple[str, str], deque[Sample]] = {}

    def record(self, namespace: str, name: str, counts: dict[str, int]) -> None:
        samples = self.fleets.setdefault((namespace, name), deque(maxlen=SAMPLES))
        counts = {key: int(counts.get(key) or 0) for key, _ in SERIES}
        now = self.clock()
        if len(samples) >= 2 and samples[-1].counts == counts == samples[-2].counts:
            samples[-1] = Sample(now, counts)  # a flat stretch: move its end, keep one point
        else:
            samples.append(Sample(now, counts))

    def chart(self, namespace: str, name: str) -> dict | None:
        """Polylines (SVG points) per state, scaled to the chart; None with fewer than two samples."""
        samples = list(self.fleets.get((namespace, name)) or [])
        if len(samples) < 2:
            return None
        start, end = samples[0].at, samples[-1].at
        span = max(end - start, 1e-6)
        top = max(1, max(max(s.counts.values()) for s in samples))

        def x(at: float) -> float:
            return round(PAD + (at - start) / span * (WIDTH - 2 * PAD), 1)

        def y(value: int) -> float:
            return round(HEIGHT - PAD - value / top * (HEIGHT - 2 * PAD), 1)

        lines = [{"state": key, "color": color, "last": samples[-1].counts[key],
                  "points": " ".join(f"{x(s.at)},{y(s.counts[key])}" for s in samples)}
                 for key, color in SERIES if any(s.counts[key] for s in samples)]
        return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "top": top, "lines": lines,
                "minutes": round(span / 60, 1), "samples": len(samples), "y_top": y(top), "y_zero": y(0)}

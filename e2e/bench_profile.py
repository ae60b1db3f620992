"""Where the controller's time goes during a bench phase: py-spy (a sampling profiler, not a
dependency of Drover: `--py-spy PATH` names the binary) records the controller process, and the
samples are summed per function, the event loop's idle samples apart.

py-spy's raw format is one line per distinct stack, `thread;frame;frame;... count` with
--threads, frames outermost first, each `function (file:line)`."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

OUTER = ("(mgmt/cli.py)", "(mgmt/controller/main.py)", "(click/core.py)", "(asyncio/runners.py)",
         "(asyncio/base_events.py)", "(asyncio/events.py)")
IDLE_LEAVES = ("(selectors.py:",)  # the event loop waiting for I/O
_LINE = re.compile(r":\d+\)$")


@dataclass
class Profile:
    samples: int            # main thread samples
    busy: int               # main thread samples not waiting in the event loop's select
    own: Counter            # function -> samples where it was running (main thread, busy)
    inclusive: Counter      # function -> samples where it was on the stack (main thread, busy)

    def busy_share(self) -> float:
        return self.busy / self.samples if self.samples else 0.0

    def top(self, counter: Counter, n: int, only: str = "") -> list[tuple[str, float]]:
        """The n largest entries (as shares of the busy samples), of functions in files under `only`
        (the process's entry frames, on every stack, left out)."""
        if not self.busy:
            return []
        chosen = [(name, count) for name, count in counter.most_common()
                  if f"({only}" in name and not name.endswith(OUTER)][:n]
        return [(name, count / self.busy) for name, count in chosen]

    def text(self, counter: Counter, n: int, only: str = "") -> str:
        return ", ".join(f"{name} {share:.0%}" for name, share in self.top(counter, n, only)) or "none"


class Recorder:
    """py-spy record of one process for the length of a phase."""

    def __init__(self, py_spy: str, pid: int, output: Path):
        self.output = output
        self.proc = subprocess.Popen([py_spy, "record", "--pid", str(pid), "--format", "raw", "--idle", "--threads",
                                      "--rate", "50", "--nonblocking", "--output", str(output)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop(self) -> Profile | None:
        self.proc.send_signal(2)  # py-spy writes its file on SIGINT
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return summarize(self.output.read_text()) if self.output.exists() else None


def _function(frame: str) -> str:
    return _LINE.sub(")", frame.strip())


def summarize(raw: str) -> Profile:
    own, inclusive = Counter(), Counter()
    samples = busy = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if "MainThread" not in frames[0] or len(frames) < 2:  # the event loop runs in the main thread
            continue
        n = int(count)
        samples += n
        if any(leaf in frames[-1] for leaf in IDLE_LEAVES):
            continue
        busy += n
        functions = [_function(f) for f in frames[1:]]
        own[functions[-1]] += n
        for name in set(functions):
            inclusive[name] += n
    return Profile(samples, busy, own, inclusive)

"""Every benchmark, run at its smallest size (`--smoke`) as a user runs it, so that none breaks
unnoticed. The figures are printed, never judged: the run must finish (exit 0) and print its
table with the rows that show its whole path ran.

A new bench hooks in with a line in SMOKE_RUNS: its command, and figures its table must hold."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.bench import Table

REPO = Path(__file__).resolve().parent.parent

SMOKE_RUNS = {
    "bench": (["-m", "e2e.bench", "--smoke"],
              ["apply -> stack ready on all (StackReady=True)", "controller writes to mgmt (should be 0)",
               "no-op sync, 1 cluster(s) x 2 components"]),
    "bench-scale": (["-m", "e2e.bench_scale", "--smoke"],
                    ["Fleet applied -> all members Ready", "Drover: stack added -> Ready on all 3",
                     "ClusterResourceSet: created -> every binding applied (3 clusters)", "bare SSA loop",
                     "ratio Drover / ClusterResourceSet", "full probe sweep of 3 members",
                     "controller writes to mgmt per idle minute", "controller RSS per member",
                     "controller restart -> every Ready member (3) probed again", "Fleet object, 10,000 clusters",
                     "Fleet status, 10,000 members", "ClusterResourceSet: created -> every binding applied (1 clusters)",
                     "real 1: ratio Drover / bare loop"]),
}


def run_to_end(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run a bench; past `timeout` it gets SIGINT, so that it still stops every process it started."""
    proc = subprocess.Popen([sys.executable, *argv], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"{' '.join(argv)} still running after {timeout:.0f}s; interrupted.\n{out}\n{err[-4000:]}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", SMOKE_RUNS)
def test_bench_smoke_run_prints_its_table(name):
    argv, figures = SMOKE_RUNS[name]
    done = run_to_end(argv, timeout=720)
    assert done.returncode == 0, f"{name} --smoke failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-6000:]}"
    lines = done.stdout.splitlines()
    header = next((line for line in lines if line.split() == list(Table.HEADER)), None)
    assert header, f"{name} printed no table:\n{done.stdout}"
    table = "\n".join(lines[lines.index(header):])
    missing = [figure for figure in figures if figure not in table]
    assert not missing, f"{name}'s table lacks {missing}:\n{table}"
    assert "NOT REACHED" not in table, f"{name}: a phase did not finish at its smallest size:\n{table}"

"""Pid files name a process by pid and start time, so a pid the kernel gave to another process
later is never taken for (and stopped as) the one recorded."""

from __future__ import annotations

from devtools import processes


def test_a_recorded_process_is_found_and_a_reused_pid_is_not(tmp_path):
    pid = processes.start("sleeper", ["sleep", "30"], tmp_path)
    try:
        assert processes.pid_of("sleeper", tmp_path) == pid
        recorded_pid, started = (tmp_path / "sleeper.pid").read_text().split()
        assert int(recorded_pid) == pid and started == processes.start_time(pid)
        # The same pid with another start time: what a pid file left behind looks like once the
        # pid has been reused.
        (tmp_path / "sleeper.pid").write_text(f"{pid} {int(started) - 1}\n")
        assert processes.pid_of("sleeper", tmp_path) is None
        assert not processes.stop("sleeper", tmp_path)
        assert processes.alive(pid), "a process that is not the recorded one must not be stopped"
    finally:
        processes.stop_pid(pid)
    assert not processes.alive(pid)


def test_a_pid_file_without_a_start_time_names_nothing(tmp_path):
    (tmp_path / "old.pid").write_text("1\n")
    assert processes.pid_of("old", tmp_path) is None

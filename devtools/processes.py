"""Long-running local processes (etcd, API servers, controllers) that outlive the
command that started them and are found again through pid files."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(name: str, argv: list[str], state_dir: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` in its own session, logging to <state>/<name>.log; record its pid."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    (state_dir / f"{name}.pid").write_text(f"{proc.pid} {start_time(proc.pid)}\n")
    return proc.pid


def pid_of(name: str, state_dir: Path) -> int | None:
    """The pid recorded for `name` if that very process is still alive (not a zombie, and not
    another process that was given the same pid later: the start time recorded with it must match)."""
    try:
        pid, started = (state_dir / f"{name}.pid").read_text().split()
        pid = int(pid)
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) and start_time(pid) == started else None


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): state is [0]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def start_time(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (stat field 22): with the pid, its identity."""
    fields = _stat(pid)
    return fields[19] if fields else None


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def stop(name: str, state_dir: Path, timeout: float = 15.0) -> bool:
    """Stop a recorded process (TERM, then KILL); True if one was running."""
    pid = pid_of(name, state_dir)
    (state_dir / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    stop_pid(pid, timeout)
    return True


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if not alive(pid):
                return
            time.sleep(0.1)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_http(url: str, timeout: float, ssl_context: ssl.SSLContext | None = None,
              pid: int | None = None, log: Path | None = None) -> None:
    """Wait until `url` answers 200; fail early if the process `pid` died."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if pid is not None and not alive(pid):
            raise RuntimeError(f"process {pid} exited while starting{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=ssl_context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last = str(error)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s ({last}){_tail(log)}")


def _tail(log: Path | None, lines: int = 15) -> str:
    if not log or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)


def resident_memory_kib(pid: int) -> int:
    """VmRSS of a process, for reports."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

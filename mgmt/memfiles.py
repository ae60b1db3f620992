"""Key material that a library wants as a file path, kept in memory (memfd: no directory entry,
nothing on disk, gone with the process)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from kubernetes_asyncio.config import kube_config

_held: dict[bytes, int] = {}  # content -> the memfd holding it, for the life of the process


@contextlib.contextmanager
def memory_file(data: bytes) -> Iterator[str]:
    """A path to `data` while the block runs."""
    fd = os.memfd_create("drover-key", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def held_memory_file(data: bytes) -> str:
    """A path to `data` for the life of the process (one per distinct content)."""
    fd = _held.get(data)
    if fd is None:
        fd = _held[data] = os.memfd_create("drover-kubeconfig", os.MFD_CLOEXEC)
        os.write(fd, data)
    return f"/proc/self/fd/{fd}"


def _kubeconfig_data_in_memory(self, content) -> str:
    return held_memory_file(content.encode() if isinstance(content, str) else content)


# kubernetes_asyncio writes a kubeconfig's certificate-authority-data, client-certificate-data and
# client-key-data to temporary files (removed only at exit, left behind by a crash) and re-reads
# them by path; the same paths, in memory.
kube_config.FileOrData._create_temp_file_with_content = _kubeconfig_data_in_memory

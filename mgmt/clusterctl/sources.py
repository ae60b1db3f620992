"""Reading a template or config file from where clusterctl would: a local path, a `file://`
or http(s) URL, or `-` for standard input."""

from __future__ import annotations

import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TIMEOUT = 30


class SourceError(Exception):
    """The content could not be read; `missing` when there is simply nothing there."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


def read(location: str) -> str:
    if location == "-":
        return sys.stdin.read()
    url = urllib.parse.urlparse(location)
    if url.scheme in ("http", "https"):
        return _download(location)
    if url.scheme in ("", "file"):
        return _read_file(Path(url.path if url.scheme == "file" else location).expanduser())
    raise SourceError(f"unable to read content from {location!r}. Only reading from http(s) URLs "
                      "and the local file system is supported")


def _read_file(path: Path) -> str:
    if path.is_dir():
        raise SourceError(f'invalid path: file "{path}" is actually a directory')
    try:
        return path.read_text()
    except FileNotFoundError:
        raise SourceError(f'failed to read file "{path}"', missing=True) from None
    except OSError as error:
        raise SourceError(f'failed to read file "{path}": {error.strerror}') from None


def _download(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        raise SourceError(f"failed to download {url}: HTTP {error.code} {error.reason}",
                          missing=error.code == 404) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SourceError(f"failed to download {url}: {reason}") from None

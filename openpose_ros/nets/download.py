"""Resumable, verified HTTP download of one model file (standard library only)."""

from __future__ import annotations

import hashlib
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence, TextIO

from openpose_ros.nets.weights import WeightFileError

__all__ = ["DownloadError", "fetch", "sha256_of"]

_CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed on every mirror (offline, refused, timed out, HTTP error)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Progress:
    """A one-line progress bar on a terminal stream, redrawn at most 5 times a second."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None):
        self.label, self.total, self.stream = label, total, stream
        self.start = self.last = time.monotonic()

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self.stream is None or (not final and now - self.last < 0.2):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6) / 1e6
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            text = (f"\r{self.label} [{bar:30s}] {100 * frac:5.1f}% "
                    f"{done / 1e6:.1f}/{self.total / 1e6:.1f} MB {rate:.1f} MB/s")
        else:
            text = f"\r{self.label} {done / 1e6:.1f} MB {rate:.1f} MB/s"
        self.stream.write(text + ("\n" if final else ""))
        self.stream.flush()


def _content_range_start(value: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes a-b/total`` header."""
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _fetch_one(url: str, part: Path, size: int | None, timeout: float, progress: _Progress) -> None:
    """Append the rest of ``url`` to ``part``, or rewrite it when the server ignores Range."""
    start = part.stat().st_size if part.exists() else 0
    if size is not None and start > size:
        start = 0
    if size is not None and start == size:
        return
    headers = {"User-Agent": "openpose_ros-model-download"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # nothing left to send: the part file is complete
            return
        raise
    with response:
        if start and response.status == 206:
            if _content_range_start(response.headers.get("Content-Range")) != start:
                raise DownloadError(f"{url}: server resumed at the wrong offset")
            mode = "ab"
        else:  # 200: the server sent the whole file
            start, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        progress.total = size or (start + int(length) if length else None)
        done = start
        with part.open(mode) as out:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                progress.update(done)
        progress.update(done, final=True)


def fetch(urls: Sequence[str], dest: Path, *, size: int | None, sha256: str | None,
          timeout: float = 10.0, progress: bool = True) -> Path:
    """Download ``dest`` from the first mirror that works, resuming ``dest.part``.

    The finished file must have ``size`` bytes and the ``sha256`` (when given) before it is
    renamed into place; otherwise the partial file is deleted and ``WeightFileError`` names the
    expected and found values. Raises ``DownloadError`` naming where to place the file by hand
    when every mirror fails (``timeout`` seconds per connection attempt and read).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    bar = _Progress(dest.name, size, sys.stderr if progress else None)
    failures = []
    for url in urls:
        try:
            _fetch_one(url, part, size, timeout, bar)
            break
        except (urllib.error.URLError, OSError, ValueError) as err:
            failures.append(f"  {url}: {getattr(err, 'reason', err)}")
    else:
        check = f" ({size} bytes, sha256 {sha256})" if sha256 else ""
        raise DownloadError(
            f"could not download {dest.name}:\n" + "\n".join(failures)
            + f"\nIf this machine is offline, fetch the file elsewhere and place it at\n  {dest}{check}"
        )
    found_size = part.stat().st_size
    found_sha = sha256_of(part) if sha256 else None
    if (size is not None and found_size != size) or found_sha != sha256:
        part.unlink(missing_ok=True)
        raise WeightFileError(
            f"{dest}: downloaded file does not match the registry: expected {size} bytes, sha256 "
            f"{sha256}; found {found_size} bytes, sha256 {found_sha} (from {url}); deleted it"
        )
    part.replace(dest)
    return dest

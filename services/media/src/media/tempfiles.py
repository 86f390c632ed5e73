"""Temporary files of uploads and renders: always removed, on success, on failure, after a crash.

Each process works in its own folder (`<temp_dir>/<host>-<pid>`), so replicas on one host never
touch each other's files; a folder whose process is gone is a crash's leftover, removed by the
sweep every worker runs when it starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

from events import get_logger

log = get_logger("media.tempfiles")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TempArea:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._host = socket.gethostname()
        self.folder = root / f"{self._host}-{os.getpid()}"

    @contextlib.contextmanager
    def work(self) -> Iterator[Path]:
        """A fresh folder for one upload or one render, removed whatever happens in it."""
        path = self.folder / uuid.uuid4().hex
        path.mkdir(parents=True, mode=0o700)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def sweep(self) -> int:
        """Remove the folders of this host's processes that no longer run; returns how many."""
        removed = 0
        if not self.root.exists():
            return 0
        for folder in self.root.iterdir():
            host, _, pid = folder.name.rpartition("-")
            if host != self._host or not pid.isdigit():
                continue
            if int(pid) != os.getpid() and _alive(int(pid)):
                continue
            if int(pid) == os.getpid() and not any(folder.iterdir()):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        if removed:
            log.warning("temporary files of a crashed process removed", folders=removed)
        return removed

    def in_use(self) -> list[Path]:
        """Every file under the area (tests assert it is empty after each case)."""
        if not self.root.exists():
            return []
        return [p for p in self.root.rglob("*") if p.is_file()]

    async def start(self) -> None:
        """The worker's component: sweep at start."""
        self.sweep()

    async def stop(self) -> None:
        return None

"""Folder locks that live exactly as long as the process holding them (autosave folders).

`FolderLock.acquire(folder)` takes an exclusive OS lock (fcntl.flock; msvcrt on Windows) on
`folder/LOCK_NAME`, which also names the holder's pid. The OS drops the lock when the process ends
however it ends (a kill -9 included), so a folder whose lock can be taken belongs to nobody alive.
Locks this process holds are kept in a registry: `held(folder)` hands the same lock to the next
owner inside this process (a restored autosave passes from the scan to the canvas that continues it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)
LOCK_NAME = "lock"

_HELD: dict[Path, FolderLock] = {}


class FolderLock:
    def __init__(self, folder: Path, fd: int) -> None:
        self.folder = folder
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, folder: Path) -> FolderLock | None:
        """The lock on `folder` (created if missing), or None if any live process, this one included,
        holds it."""
        folder = Path(folder).resolve()
        if folder in _HELD:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        if not _try_lock(fd):
            os.close(fd)
            return None
        with contextlib.suppress(OSError):  # who holds it, for people reading the folder
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        lock = cls(folder, fd)
        _HELD[folder] = lock
        return lock

    @classmethod
    def held(cls, folder: Path) -> FolderLock | None:
        """The lock this process already holds on `folder`, if any."""
        return _HELD.get(Path(folder).resolve())

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let go (idempotent); the lock file stays, to be taken by whoever comes next."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.pop(self.folder, None)
        os.close(fd)  # closing the descriptor drops the OS lock


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

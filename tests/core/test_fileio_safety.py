"""Files Studio writes: normal permissions, never replaced when new, no temp litter, folder locks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from studio.core.document import Document
from studio.core.fileio import (
    atomic_write_bytes,
    atomic_write_new,
    clean_stale_temps,
    numbered_names,
    write_unique,
)
from studio.core.locks import FolderLock

ROOT = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions and signals")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@posix_only
def test_new_files_get_the_umask_permissions_not_0600(tmp_path: Path, umask_022) -> None:
    atomic_write_bytes(tmp_path / "a.json", b"{}")
    atomic_write_new(tmp_path / "b.png", b"x")
    assert _mode(tmp_path / "a.json") == 0o644 == _mode(tmp_path / "b.png")  # what open() gives
    os.umask(0o077)
    atomic_write_bytes(tmp_path / "private.json", b"{}")
    assert _mode(tmp_path / "private.json") == 0o600


@posix_only
def test_saving_the_canvas_over_a_photo_keeps_it_readable_by_others(tmp_path: Path, umask_022) -> None:
    photo = tmp_path / "photo.png"
    Document.blank(8, 8).save_image(photo)
    os.chmod(photo, 0o644)
    doc = Document.open(photo)
    doc.apply_image(np.zeros((8, 8, 3), np.uint8))
    os.umask(0o077)  # even with a strict umask the photo keeps its own permissions
    doc.save_image(photo)
    assert _mode(photo) == 0o644
    os.chmod(photo, 0o640)
    doc.save_image(photo)
    assert _mode(photo) == 0o640


def test_a_new_file_never_replaces_an_existing_one(tmp_path: Path) -> None:
    (tmp_path / "out.png").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        atomic_write_new(tmp_path / "out.png", b"new")
    assert (tmp_path / "out.png").read_bytes() == b"old"
    first = write_unique(tmp_path, numbered_names("out", ".png"), b"new")
    second = write_unique(tmp_path, numbered_names("out", ".png"), b"newer")
    assert (first.name, second.name) == ("out-1.png", "out-2.png")
    assert first.read_bytes() == b"new" and second.read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-1.png", "out-2.png", "out.png"]  # no temps


@posix_only
def test_stale_temp_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".settings.json.{dead_pid}-0a1b2c3d.tmp"
    live = tmp_path / f".x.png.{os.getpid()}-deadbeef.tmp"
    other = tmp_path / "notes.tmp"  # not ours: kept
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    assert clean_stale_temps(tmp_path) == 1
    assert not stale.exists() and live.exists() and other.exists()
    assert clean_stale_temps(tmp_path / "missing") == 0


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from studio.core.locks import FolderLock
    lock = FolderLock.acquire(sys.argv[1])
    print("held" if lock else "busy", flush=True)
    time.sleep(60)
    """
)


@posix_only
def test_a_folder_lock_lives_exactly_as_long_as_its_process(tmp_path: Path) -> None:
    folder = tmp_path / "canvas-x"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert FolderLock.acquire(folder) is None  # another live process holds it
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs; the OS drops the lock
        holder.wait()
    lock = FolderLock.acquire(folder)
    assert lock is not None and FolderLock.held(folder) is lock
    assert FolderLock.acquire(folder) is None  # this process holds it now
    lock.release()
    lock.release()  # idempotent
    again = FolderLock.acquire(folder)
    assert again is not None
    again.release()

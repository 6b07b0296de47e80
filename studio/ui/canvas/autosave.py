"""Autosave of the canvas (image + mask at the undo head) and restore after a crash.

Layout: AUTOSAVE_DIR/canvas-<id>/{image-<n>.png, mask-<n>.png, state.json}. The PNGs of a save are
written first, then state.json (atomically) names them, then older PNGs go: a crash at any point
leaves a complete earlier or later save. A clean close deletes the folder; a folder still there at
the next launch whose process is gone is offered for restore. No Qt here.

Each folder has a `lock` file that its writer holds locked (`core.locks.FolderLock`) from before its
first state.json until the folder is removed; the OS drops the lock when the process dies, however it
dies. A scan takes the lock of each folder it reads, so it only ever sees dead sessions' folders:
a second running Studio never offers, moves aside or deletes a live one's autosave. The lock of a
folder that is offered passes to the canvas that restores it (or is released: "later").
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from studio.core.document import Document, encode_image
from studio.core.fileio import atomic_write_bytes, atomic_write_text, clean_stale_temps, set_aside
from studio.core.images import open_guarded
from studio.core.locks import FolderLock

log = logging.getLogger(__name__)
STATE = "state.json"
PREFIX = "canvas-"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Snapshot:
    image: np.ndarray | None  # None: the image did not change since the last snapshot (mask edits)
    mask: np.ndarray
    source: str  # the file the document came from, "" if none
    counter: int


@dataclass(frozen=True)
class Restorable:
    folder: Path
    saved_at: float
    size: tuple[int, int]
    source: str
    lock: FolderLock | None = field(default=None, compare=False, repr=False)  # held while offered

    def load(self) -> Document:
        state = json.loads((self.folder / STATE).read_text("utf-8"))
        with open_guarded(self.folder / state["image"]) as img:
            image = np.asarray(img.convert("RGB")).copy()
        with open_guarded(self.folder / state["mask"]) as m:
            mask = np.asarray(m.convert("L")).copy()
        doc = Document(image, mask, path=Path(state["source"]) if state.get("source") else None)
        doc.version = 1  # restored work is unsaved work
        return doc

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """Leave it for later (offered again at the next start); a restoring canvas keeps the lock."""
        if self.lock is not None:
            self.lock.release()


class AutosaveWriter:
    """Writes snapshots on a background thread; the newest pending snapshot wins."""

    def __init__(self, autosave_dir: Path, folder: Path | None = None) -> None:
        self.folder = folder or Path(autosave_dir) / f"{PREFIX}{uuid.uuid4().hex[:12]}"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self._lock = threading.Lock()
        self._pending: Snapshot | None = None
        self._future: Future[None] | None = None
        self._counter = _last_counter(self.folder)
        self._folder_lock = FolderLock.held(self.folder)  # a restored folder's lock passes on to us
        self._closed = False
        self._image_version = -1  # Document.image_version of the last snapshot that carried the image
        self._image_name = ""  # worker side: the image file the latest state.json names
        self.last_error = ""

    def save(self, doc: Document, *, wait: bool = False) -> None:
        """Snapshot `doc` now (a fast copy on the caller's thread) and write it in the background."""
        self._counter += 1
        with self._lock:
            same_image = doc.image_version == self._image_version
            self._image_version = doc.image_version
            image = None if same_image else doc.image.copy()  # most edits are mask strokes: skip 48 MB
            if image is None and self._pending is not None:
                image = self._pending.image  # the pending snapshot is replaced: keep its image
            self._pending = Snapshot(image, doc.mask.copy(), str(doc.path or ""), self._counter)
            if self._closed:  # closed cleanly, then edited again (e.g. the window close was cancelled)
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
                self._closed = False
            if self._future is None or self._future.done():
                self._future = self._pool.submit(self._drain)
            future = self._future
        if wait:
            future.result()

    def flush(self) -> None:
        with self._lock:
            future = self._future
        if future is not None:
            future.result()

    def close_clean(self) -> None:
        """The document was closed on purpose (saved or discarded): nothing to restore."""
        self.flush()
        with self._lock:
            self._closed = True
            self._image_version = -1
            pool = self._pool
        pool.shutdown(wait=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._folder_lock is not None:
            self._folder_lock.release()
            self._folder_lock = None

    def _ensure_lock(self) -> None:
        """Hold the folder's lock before anything is written into it (worker thread)."""
        if self._folder_lock is not None and self._folder_lock.locked:
            return
        self._folder_lock = FolderLock.held(self.folder) or FolderLock.acquire(self.folder)
        if self._folder_lock is None:
            raise OSError(f"another running Studio holds the autosave folder {self.folder}")

    def _drain(self) -> None:
        while True:
            with self._lock:
                snap, self._pending = self._pending, None
            if snap is None:
                return
            try:
                self._write(snap)
                self.last_error = ""
            except OSError as exc:
                self.last_error = f"Autosave failed: {exc}"
                log.exception("Autosave to %s failed", self.folder)

    def _write(self, snap: Snapshot) -> None:
        started = time.perf_counter()
        self._ensure_lock()
        names = {"image": f"image-{snap.counter}.png", "mask": f"mask-{snap.counter}.png"}
        if snap.image is None and (self.folder / self._image_name).is_file() and self._image_name:
            names["image"] = self._image_name  # unchanged: the file written before stays
        elif snap.image is None:
            with self._lock:
                self._image_version = -1  # the image file is missing: the next save carries it
            raise OSError("the autosaved image is missing; it will be written with the next save")
        else:
            atomic_write_bytes(
                self.folder / names["image"], encode_image(Image.fromarray(snap.image), ".png", 1)
            )
            self._image_name = names["image"]
        atomic_write_bytes(self.folder / names["mask"], encode_image(Image.fromarray(snap.mask), ".png", 1))
        h, w = snap.mask.shape
        state = {
            "version": FORMAT_VERSION,
            "pid": os.getpid(),
            "saved_at": time.time(),
            "size": [w, h],
            "source": snap.source,
            "counter": snap.counter,
            **names,
        }
        atomic_write_text(self.folder / STATE, json.dumps(state, indent=1))
        for old in self.folder.glob("*.png"):
            if old.name not in names.values():
                old.unlink(missing_ok=True)
        log.debug("Autosaved %dx%d in %.0f ms", w, h, (time.perf_counter() - started) * 1000)


def find_all_restorable(autosave_dir: Path) -> list[Restorable]:
    """Autosaves left by sessions that did not close cleanly, newest first, each with its folder's
    lock held (call `release()`, `discard()` or restore it); live sessions' folders are skipped."""
    found = []
    root = Path(autosave_dir)
    if not root.is_dir():
        return []
    for folder in root.glob(f"{PREFIX}*"):
        if not (folder / STATE).is_file():
            continue  # nothing saved yet (or a writer just starting): not ours to touch
        lock = FolderLock.acquire(folder)
        if lock is None:
            continue  # a running Studio (maybe this one) is working in it
        item = _read(folder, lock)
        if item is None:
            lock.release()
        else:
            clean_stale_temps(folder)
            found.append(item)
    return sorted(found, key=lambda r: r.saved_at, reverse=True)


def find_restorable(autosave_dir: Path) -> Restorable | None:
    """The newest autosave that was not cleanly closed (its lock held); the others are left."""
    found = find_all_restorable(autosave_dir)
    for other in found[1:]:
        other.release()
    return found[0] if found else None


def _read(folder: Path, lock: FolderLock) -> Restorable | None:
    """The autosave in `folder` (whose lock the caller holds: no live writer); a bad one is set aside."""
    path = folder / STATE
    try:
        state = json.loads(path.read_text("utf-8"))
        if state.get("version") != FORMAT_VERSION:
            raise ValueError(f"unknown autosave version {state.get('version')!r}")
        if not (folder / state["image"]).is_file() or not (folder / state["mask"]).is_file():
            raise ValueError("autosave images are missing")
        size = (int(state["size"][0]), int(state["size"][1]))
        return Restorable(folder, float(state["saved_at"]), size, str(state.get("source", "")), lock)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("Autosave in %s is unreadable: %s", folder, exc)
        set_aside(path, str(exc))
        return None


def _last_counter(folder: Path) -> int:
    try:
        return int(json.loads((folder / STATE).read_text("utf-8")).get("counter", 0))
    except (OSError, ValueError):
        return 0

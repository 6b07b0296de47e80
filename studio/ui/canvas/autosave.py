"""Autosave of the canvas (every layer + the mask at the undo head) and restore after a crash.

Layout: AUTOSAVE_DIR/canvas-<id>/{layer-<uid>-<version>.png..., mask-<n>.png, state.json}. Each layer
is a straight-alpha RGBA PNG of its content (cropped, placed with x/y), written only when the layer
changed since the last save (most edits touch one layer; the others' files stay). The PNGs of a save
are written first, then state.json (atomically) names them with each layer's name, visibility,
opacity and kind, then older PNGs go: a crash at any point leaves a complete earlier or later save.
A restore gives back exactly the same layer pixels (premultiplied -> straight -> premultiplied is
exact). A clean close deletes the folder; a folder still there at the next launch whose process is
gone is offered for restore. Version-1 folders (one image + mask) from older Studios still restore.
No Qt here.

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
from studio.core.layers import Layer, LayerKind, LayerProps, Rect, slices, unpremultiply
from studio.core.locks import FolderLock

log = logging.getLogger(__name__)
STATE = "state.json"
PREFIX = "canvas-"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class LayerSnapshot:
    """One layer at snapshot time; `pixels` (premultiplied, cropped to `bounds`) is None when the
    layer did not change since a snapshot that carried it (its file is kept)."""

    uid: str
    version: int
    props: LayerProps
    bounds: Rect | None
    pixels: np.ndarray | None

    @property
    def file(self) -> str:
        return f"layer-{self.uid}-{self.version}.png"


@dataclass(frozen=True)
class Snapshot:
    layers: tuple[LayerSnapshot, ...]
    active: int
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
    layer_count: int = 1

    def load(self) -> Document:
        state = json.loads((self.folder / STATE).read_text("utf-8"))
        mask = _read_png(self.folder / state["mask"], "L")
        path = Path(state["source"]) if state.get("source") else None
        if state.get("version") == 1:
            doc = Document(_read_png(self.folder / state["image"], "RGB"), mask, path=path)
        else:
            layers = [_load_layer(self.folder, entry, mask.shape) for entry in state["layers"]]
            doc = Document(mask=mask, layers=layers, active=int(state.get("active", 0)), path=path)
        doc.version = 1  # restored work is unsaved work
        return doc

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """Leave it for later (offered again at the next start); a restoring canvas keeps the lock."""
        if self.lock is not None:
            self.lock.release()


def _read_png(path: Path, mode: str) -> np.ndarray:
    with open_guarded(path) as img:
        return np.asarray(img.convert(mode)).copy()


def _load_layer(folder: Path, entry: dict, shape: tuple[int, ...]) -> Layer:
    h, w = shape[:2]
    rgba = np.zeros((h, w, 4), np.uint8)
    if entry.get("x") is not None:
        part = _read_png(folder / entry["file"], "RGBA")
        x, y = int(entry["x"]), int(entry["y"])
        if y + part.shape[0] > h or x + part.shape[1] > w or x < 0 or y < 0:
            raise ValueError(f"the autosaved layer {entry['name']!r} does not fit the canvas")
        rgba[y : y + part.shape[0], x : x + part.shape[1]] = part
    layer = Layer.from_rgba(str(entry["name"]), rgba, LayerKind(entry.get("kind", "image")))
    layer.visible, layer.opacity = bool(entry.get("visible", True)), float(entry.get("opacity", 1.0))
    return layer


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
        self._sent: dict[str, int] = {}  # layer uid -> version of the last snapshot carrying its pixels
        self.last_error = ""

    def save(self, doc: Document, *, wait: bool = False) -> None:
        """Snapshot `doc` now (on the caller's thread: a copy of the layers that changed, cropped to
        their content) and write it in the background."""
        self._counter += 1
        with self._lock:
            layers = tuple(self._layer_snapshot(x) for x in doc.layers)
            present = {x.uid for x in doc.layers}  # a layer that left (deleted) and comes back (undo)
            self._sent = {k: v for k, v in self._sent.items() if k in present}  # is carried again
            if self._pending is not None:  # the pending snapshot is replaced: keep the pixels it carried
                layers = _carry_pixels(layers, self._pending.layers)
            self._pending = Snapshot(
                layers, doc.active_index, doc.mask.copy(), str(doc.path or ""), self._counter
            )
            if self._closed:  # closed cleanly, then edited again (e.g. the window close was cancelled)
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
                self._closed = False
            if self._future is None or self._future.done():
                self._future = self._pool.submit(self._drain)
            future = self._future
        if wait:
            future.result()

    def _layer_snapshot(self, layer: Layer) -> LayerSnapshot:
        same = self._sent.get(layer.uid) == layer.version
        self._sent[layer.uid] = layer.version
        pixels = None if same or layer.bounds is None else layer.pixels[slices(layer.bounds)].copy()
        return LayerSnapshot(layer.uid, layer.version, layer.props, layer.bounds, pixels)

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
            self._sent = {}
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
        entries = [self._write_layer(layer) for layer in snap.layers]
        mask_name = f"mask-{snap.counter}.png"
        atomic_write_bytes(self.folder / mask_name, encode_image(Image.fromarray(snap.mask), ".png", 1))
        h, w = snap.mask.shape
        state = {
            "version": FORMAT_VERSION,
            "pid": os.getpid(),
            "saved_at": time.time(),
            "size": [w, h],
            "source": snap.source,
            "counter": snap.counter,
            "mask": mask_name,
            "active": snap.active,
            "layers": entries,
        }
        atomic_write_text(self.folder / STATE, json.dumps(state, indent=1))
        keep = {mask_name, *(e["file"] for e in entries)}
        for old in self.folder.glob("*.png"):
            if old.name not in keep:
                old.unlink(missing_ok=True)
        log.debug(
            "Autosaved %dx%d, %d layers in %.0f ms",
            w,
            h,
            len(entries),
            (time.perf_counter() - started) * 1000,
        )

    def _write_layer(self, layer: LayerSnapshot) -> dict[str, object]:
        """Write the layer's PNG if it came with pixels; its entry in state.json (worker thread)."""
        path = self.folder / layer.file
        if layer.pixels is not None:
            rgba = Image.fromarray(unpremultiply(layer.pixels), "RGBA")
            atomic_write_bytes(path, encode_image(rgba, ".png", 1))
        elif layer.bounds is not None and not path.is_file():
            with self._lock:
                self._sent = {}  # a file is missing: the next save carries every layer
            raise OSError(
                f"the autosaved layer {layer.props.name!r} is missing; it will be written with the next save"
            )
        p = layer.props
        x, y = (layer.bounds[0], layer.bounds[1]) if layer.bounds else (None, None)
        return {
            "file": layer.file,
            "uid": layer.uid,
            "name": p.name,
            "visible": p.visible,
            "opacity": p.opacity,
            "kind": p.kind.value,
            "x": x,
            "y": y,
        }


def _carry_pixels(
    layers: tuple[LayerSnapshot, ...], pending: tuple[LayerSnapshot, ...]
) -> tuple[LayerSnapshot, ...]:
    """The new snapshot's layers, taking the pixels a replaced (never written) snapshot carried for
    a layer that has not changed since."""
    carried = {(x.uid, x.version): x.pixels for x in pending if x.pixels is not None}
    return tuple(
        LayerSnapshot(x.uid, x.version, x.props, x.bounds, carried.get((x.uid, x.version)))
        if x.pixels is None and (x.uid, x.version) in carried
        else x
        for x in layers
    )


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
        if state.get("version") not in READABLE_VERSIONS:
            raise ValueError(f"unknown autosave version {state.get('version')!r}")
        layers = (
            [state["image"]]
            if state["version"] == 1
            else [x["file"] for x in state["layers"] if x["x"] is not None]
        )
        if not all((folder / name).is_file() for name in [state["mask"], *layers]):
            raise ValueError("autosave images are missing")
        size = (int(state["size"][0]), int(state["size"][1]))
        count = 1 if state["version"] == 1 else len(state["layers"])
        return Restorable(folder, float(state["saved_at"]), size, str(state.get("source", "")), lock, count)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("Autosave in %s is unreadable: %s", folder, exc)
        set_aside(path, str(exc))
        return None


def _last_counter(folder: Path) -> int:
    try:
        return int(json.loads((folder / STATE).read_text("utf-8")).get("counter", 0))
    except (OSError, ValueError):
        return 0

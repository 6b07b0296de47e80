"""Nothing lost: autosave, restore after a crash, asking before closing, opening/pasting/dropping."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QGuiApplication, QImage

from studio.core.locks import FolderLock
from studio.ui.canvas import find_all_restorable, find_restorable
from studio.ui.canvas.autosave import AutosaveWriter


def _paint(ws) -> None:
    ws.doc.set_mask_region((5, 5, 25, 15), np.full((10, 20), 255, np.uint8), "test")


def _crash(writer: AutosaveWriter) -> None:
    """What the OS does when the process dies: its folder lock goes (the folder stays)."""
    writer.flush()
    lock = FolderLock.held(writer.folder)
    if lock is not None:
        lock.release()


def test_debounced_autosave_then_restore_after_crash(make_workspace, qtbot, tmp_path) -> None:
    ws = make_workspace(autosave_delay_ms=50)
    _paint(ws)
    ws.doc.extend(0, 0, 8, 0)
    state = ws.autosave.folder / "state.json"
    qtbot.waitUntil(state.exists, timeout=3000)
    _crash(ws.autosave)
    image, mask = ws.doc.image.copy(), ws.doc.mask.copy()
    del ws  # a crash: no maybe_close, the folder stays
    item = find_restorable(tmp_path / "autosave")
    assert item is not None and item.size == (104, 64)
    fresh = make_workspace()
    fresh.restore(item)
    assert np.array_equal(fresh.doc.image, image) and np.array_equal(fresh.doc.mask, mask)
    assert fresh.doc.dirty  # restored work is not saved anywhere else
    assert fresh.autosave.folder == item.folder
    fresh.maybe_close()  # discard (fixture answer) -> nothing left to restore
    assert find_restorable(tmp_path / "autosave") is None


def test_accepting_a_result_autosaves_at_once(workspace, submits) -> None:
    _paint(workspace)
    workspace.inpaint()
    req = submits.requests[0]
    result = np.asarray(req.init_image).copy()
    result[5:15, 5:25] = 0
    submits.finish([Image.fromarray(result)])
    workspace.accept_candidate()
    _crash(workspace.autosave)
    item = find_restorable(workspace.autosave_dir)
    assert item is not None
    assert np.array_equal(item.load().image, workspace.doc.image)


def test_writer_keeps_a_complete_save_and_drops_old_files(tmp_path) -> None:
    from studio.core.document import Document

    doc = Document.blank(16, 16)
    writer = AutosaveWriter(tmp_path)
    writer.save(doc, wait=True)
    doc.fill_mask()
    writer.save(doc, wait=True)
    names = sorted(p.name for p in writer.folder.iterdir())
    image = f"layer-{doc.layers[0].uid}-0.png"  # the empty paint layer needs no file
    assert names == [image, "lock", "mask-2.png", "state.json"]  # the image did not change
    _crash(writer)
    assert find_restorable(tmp_path).load().mask.all()


def test_unreadable_autosave_is_set_aside(tmp_path) -> None:
    folder = tmp_path / "canvas-broken"
    folder.mkdir()
    (folder / "state.json").write_text("{not json")
    assert find_all_restorable(tmp_path) == []
    assert any(p.name.startswith("state.json.broken-") for p in folder.iterdir())


def test_autosave_of_a_live_session_is_not_offered(tmp_path) -> None:
    from studio.core.document import Document

    writer = AutosaveWriter(tmp_path)
    writer.save(Document.blank(8, 8), wait=True)
    assert find_restorable(tmp_path) is None  # this process is still working in it
    state = json.loads((writer.folder / "state.json").read_text())
    state["pid"] = 1  # a pid that is alive does not hide a dead session's work: the lock decides
    (writer.folder / "state.json").write_text(json.dumps(state))
    _crash(writer)
    assert find_restorable(tmp_path) is not None


@pytest.mark.parametrize(("choice", "closes"), [("cancel", False), ("discard", True)])
def test_maybe_close_asks_when_dirty(make_workspace, choice, closes) -> None:
    asked = []
    ws = make_workspace(unsaved_choice=lambda parent: asked.append(1) or choice)
    assert ws.maybe_close() is True and not asked  # nothing changed: no question
    _paint(ws)
    assert ws.maybe_close() is closes and asked == [1]
    ws.doc.fill_mask()  # still in use (e.g. closing the window was cancelled elsewhere)
    ws.autosave_now()
    _crash(ws.autosave)
    assert find_restorable(ws.autosave_dir) is not None


def test_maybe_close_save_writes_the_image(make_workspace, tmp_path) -> None:
    ws = make_workspace(unsaved_choice=lambda parent: "save")
    ws.doc.path = tmp_path / "art.png"
    ws.doc.extend(0, 0, 8, 8)
    assert ws.maybe_close()
    assert Image.open(tmp_path / "art.png").size == (104, 72)
    assert not ws.doc.dirty


def test_open_file_and_save_load_mask(workspace, tmp_path) -> None:
    Image.new("RGB", (40, 30), (1, 2, 3)).save(tmp_path / "in.webp", lossless=True)
    assert workspace.open_file(tmp_path / "in.webp")
    assert workspace.doc.size == (40, 30) and workspace.view.layer_images.size == (40, 30)
    assert workspace.title() == "in.webp"
    _paint(workspace)
    assert workspace.title() == "in.webp*"
    assert workspace.save_mask(tmp_path / "m.png")
    workspace.doc.clear_mask()
    assert workspace.load_mask(tmp_path / "m.png") and workspace.doc.mask[5:15, 5:25].all()
    assert not workspace.open_file(tmp_path / "missing.png")


def test_new_canvas_paste_and_drop(workspace, tmp_path) -> None:
    assert workspace.new_canvas((64, 32))
    assert workspace.doc.size == (64, 32) and (workspace.doc.image == 255).all()
    img = QImage(20, 10, QImage.Format.Format_RGB32)
    img.fill(0xFF102030)
    QGuiApplication.clipboard().setImage(img)
    assert workspace.paste()  # since layers (issue 12): a new layer, centred, not a new document
    doc = workspace.doc
    assert doc.size == (64, 32) and len(doc.layers) == 3 and doc.active_layer.name == "Pasted 1"
    assert (doc.image[11:21, 22:42] == (0x10, 0x20, 0x30)).all() and (doc.image[:11] == 255).all()
    assert doc.dirty
    workspace.undo()
    assert len(doc.layers) == 2 and (doc.image == 255).all()
    Image.new("RGB", (12, 12), (9, 9, 9)).save(tmp_path / "drop.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "drop.png"))])
    from studio.ui.canvas import files

    assert files.image_path_from_mime(mime) == tmp_path / "drop.png"
    assert workspace.set_document(files.document_from_mime(mime))
    assert workspace.doc.size == (12, 12)


@pytest.mark.parametrize("choice", ["restore", "discard", "later"])
def test_offer_restore_at_start(make_workspace, tmp_path, choice) -> None:
    from studio.ui.canvas.restore import offer_restore

    crashed = make_workspace()
    _paint(crashed)
    crashed.autosave_now()
    _crash(crashed.autosave)
    fresh = make_workspace()
    asked = []
    restored = offer_restore(fresh, choose=lambda parent, item: asked.append(item.size) or choice)
    assert asked == [(96, 64)] and restored is (choice == "restore")
    assert np.array_equal(fresh.doc.mask, crashed.doc.mask) is (choice == "restore")
    _crash(fresh.autosave)  # a restoring canvas holds the folder until it dies
    left = find_restorable(tmp_path / "autosave")
    assert (left is None) is (choice == "discard")
    if left is not None:
        left.release()
    assert offer_restore(make_workspace(), choose=lambda p, i: "restore") is (choice != "discard")


def test_saving_removes_the_restore_offer_and_copy(make_workspace, tmp_path) -> None:
    ws = make_workspace()
    _paint(ws)
    ws.autosave_now()
    ws.autosave.flush()
    assert (ws.autosave.folder / "state.json").exists()
    assert ws.save_image(tmp_path / "done.png")
    assert not ws.autosave.folder.exists()  # the saved file is the safe copy
    ws.doc.invert_mask()  # new work after saving is autosaved again
    ws.autosave_now()
    _crash(ws.autosave)
    assert find_restorable(tmp_path / "autosave") is not None
    ws.actions_["copy"].trigger()
    assert QGuiApplication.clipboard().image().size().width() == 96


def test_mask_only_edits_do_not_rewrite_the_image(tmp_path) -> None:
    from studio.core.document import Document

    doc = Document.blank(32, 32)
    writer = AutosaveWriter(tmp_path)
    writer.save(doc, wait=True)
    doc.fill_mask()
    writer.save(doc, wait=True)
    image = f"layer-{doc.layers[0].uid}-0.png"
    assert sorted(p.name for p in writer.folder.glob("*.png")) == [image, "mask-2.png"]
    doc.apply_image(np.zeros((32, 32, 3), np.uint8))
    doc.invert_mask()
    writer.save(doc)  # carries the new image...
    doc.fill_mask()
    writer.save(doc)  # ...even if this later mask-only snapshot replaces it before it is written
    _crash(writer)
    restored = find_restorable(tmp_path).load()
    assert not restored.image.any() and restored.mask.all()


def test_an_autosave_from_before_layers_still_restores(tmp_path) -> None:
    """Version 1 (one image + mask, Studio before issue 12) comes back as a layered document."""
    folder = tmp_path / "canvas-old"
    folder.mkdir()
    image = np.random.default_rng(2).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    Image.fromarray(image).save(folder / "image-3.png")
    Image.new("L", (20, 12), 255).save(folder / "mask-3.png")
    state = {"version": 1, "pid": 1, "saved_at": 1.0, "size": [20, 12], "source": "", "counter": 3}
    (folder / "state.json").write_text(json.dumps({**state, "image": "image-3.png", "mask": "mask-3.png"}))
    item = find_restorable(tmp_path)
    assert item is not None and item.layer_count == 1
    doc = item.load()
    assert np.array_equal(doc.image, image) and doc.mask.all() and doc.dirty
    assert [x.name for x in doc.layers] == ["Image", "Paint 1"]
    item.release()


def test_a_layer_deleted_and_brought_back_by_undo_is_autosaved_again(tmp_path) -> None:
    from studio.core.document import Document

    doc = Document.blank(16, 16)
    doc.paste_layer(np.full((4, 4, 3), 7, np.uint8))
    writer = AutosaveWriter(tmp_path)
    writer.save(doc, wait=True)
    doc.delete_layer(2)
    writer.save(doc, wait=True)  # its file goes with this save
    doc.undo()
    writer.save(doc, wait=True)  # unchanged since the first save, but its file must be written again
    assert writer.last_error == ""
    _crash(writer)
    restored = find_restorable(tmp_path).load()
    assert [x.name for x in restored.layers] == ["Image", "Paint 1", "Pasted 1"]
    assert np.array_equal(restored.layers[2].pixels, doc.layers[2].pixels)

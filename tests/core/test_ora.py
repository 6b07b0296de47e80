"""OpenRaster files: exact round trip of layers (pixels, names, visibility, opacity), the spec's
layout, and bad files refused with a message while the open document stays as it was."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.document import Document
from studio.core.layers import LayerKind, premultiply
from studio.core.ora import OraError, read_ora


def _layered(tmp_path: Path) -> Document:
    rng = np.random.default_rng(3)
    doc = Document(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    layer = doc.layers[1]
    doc.begin_stroke(layer)
    doc.stroke_backup((5, 5, 25, 20))
    straight = rng.integers(0, 256, (15, 20, 4), dtype=np.uint8)  # every alpha, every colour
    layer.pixels[5:20, 5:25] = premultiply(straight)
    doc.stroke_touched((5, 5, 25, 20))
    doc.end_stroke()
    doc.rename_layer(1, "Sketch — ünïcode <&>")
    doc.set_layer_opacity(1, 0.35)
    result = doc.image.copy()
    result[30:35, 40:50] = (1, 2, 3)
    doc.apply_image(result)
    doc.set_layer_visible(2, False)
    doc.set_active(1)
    return doc


def test_round_trip_is_exact(tmp_path: Path) -> None:
    doc = _layered(tmp_path)
    path = doc.save(tmp_path / "work.ora")
    assert not doc.dirty and doc.path == path
    again = Document.open(path)
    assert [x.name for x in again.layers] == ["Image", "Sketch — ünïcode <&>", "Result 1"]
    assert [x.kind for x in again.layers] == [LayerKind.IMAGE, LayerKind.PAINT, LayerKind.RESULT]
    assert [(x.visible, x.opacity) for x in again.layers] == [(True, 1.0), (True, 0.35), (False, 1.0)]
    for a, b in zip(doc.layers, again.layers, strict=True):
        assert np.array_equal(a.pixels, b.pixels)
    assert np.array_equal(again.image, doc.image)
    assert again.active_index == 1 and again.path == path and not again.dirty


def test_file_follows_the_spec(tmp_path: Path) -> None:
    path = _layered(tmp_path).save(tmp_path / "work.ora")
    with zipfile.ZipFile(path) as zf:
        first = zf.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert zf.read("mimetype") == b"image/openraster"
        root = ET.fromstring(zf.read("stack.xml"))
        assert (root.tag, root.get("w"), root.get("h")) == ("image", "60", "40")
        layers = root.findall("./stack/layer")
        assert [x.get("name") for x in layers] == ["Result 1", "Sketch — ünïcode <&>", "Image"]  # top first
        assert [x.get("visibility") for x in layers] == ["hidden", "visible", "visible"]
        assert layers[1].get("opacity") == "0.35" and layers[1].get("selected") == "true"
        with Image.open(io.BytesIO(zf.read("mergedimage.png"))) as merged:
            assert merged.size == (60, 40)
        with Image.open(io.BytesIO(zf.read("Thumbnails/thumbnail.png"))) as thumb:
            assert max(thumb.size) <= 256
        sketch = [i for i in zf.infolist() if i.filename == "data/layer1.png"][0]
        with Image.open(io.BytesIO(zf.read(sketch))) as png:
            assert png.size == (20, 15) and png.mode == "RGBA"  # cropped to the painted part


def _ora(tmp_path: Path, stack: str, files: dict[str, bytes] | None = None, name: str = "x.ora") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", b"image/openraster")
        zf.writestr("stack.xml", stack)
        for key, data in (files or {}).items():
            zf.writestr(key, data)
    return path


def _png(w: int, h: int, colour=(255, 0, 0, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (w, h), colour).save(buf, "PNG")
    return buf.getvalue()


def test_reads_other_programs_files_with_groups_and_offsets(tmp_path: Path) -> None:
    stack = (
        '<image w="8" h="6"><stack>'
        '<stack opacity="0.5" name="group"><layer src="a.png" x="6" y="-1" name="a"/></stack>'
        '<stack visibility="hidden"><layer src="b.png"/></stack>'
        '<layer src="c.png" name="bottom"/>'
        "</stack></image>"
    )
    path = _ora(
        tmp_path, stack, {"a.png": _png(4, 4), "b.png": _png(1, 1), "c.png": _png(8, 6, (0, 0, 255, 255))}
    )
    found = read_ora(path)
    assert [x.name for x in found.layers] == ["bottom", "b", "a"]
    a = found.layers[2]
    assert a.opacity == 0.5 and a.bounds == (6, 0, 8, 3)
    assert not found.layers[1].visible


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"not a zip"), "not a zip"),
        (lambda p: zipfile.ZipFile(p, "w").close(), "no stack.xml"),
        (lambda p: _ora(p.parent, "<image w='4' h='4'><stack>", name=p.name), "not valid XML"),
        (lambda p: _ora(p.parent, "<image w='4' h='4'><stack/></image>", name=p.name), "no layers"),
        (
            lambda p: _ora(
                p.parent, "<image w='4' h='4'><stack><layer src='gone.png'/></stack></image>", name=p.name
            ),
            "gone.png, which is not in the file",
        ),
        (
            lambda p: _ora(
                p.parent,
                "<image w='4' h='4'><stack><layer src='a.png'/></stack></image>",
                {"a.png": b"junk"},
                name=p.name,
            ),
            "not an image",
        ),
        (
            lambda p: _ora(
                p.parent,
                "<image w='100000' h='100000'><stack><layer src='a.png'/></stack></image>",
                name=p.name,
            ),
            "million",
        ),
        (
            lambda p: _ora(
                p.parent,
                "<image w='4' h='4'><stack><layer src='a.png'/></stack></image>",
                {"a.png": _png(64, 64)},
                name=p.name,
            ),
            "far larger",
        ),
        (
            lambda p: _ora(
                p.parent, '<!DOCTYPE x [<!ENTITY a "aaaa">]><image w="4" h="4"><stack/></image>', name=p.name
            ),
            "entities",
        ),
    ],
)
def test_bad_files_give_a_message_and_leave_the_document(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad.ora"
    make(path)
    with pytest.raises(OraError, match=message):
        Document.open(path)


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.ora"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", b"image/openraster")
        zf.writestr("stack.xml", "<image w='4' h='4'><stack><layer src='a.png'/></stack></image>")
        zf.writestr("a.png", b"\0" * (20 * 1024 * 1024))  # 20 MB of zeros: a few KB packed
    assert path.stat().st_size < 100_000
    with pytest.raises(OraError, match="too large"):
        read_ora(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(OraError, match="was not found"):
        read_ora(tmp_path / "nope.ora")
    (tmp_path / "dir.ora").mkdir()
    with pytest.raises(OraError, match="folder"):
        read_ora(tmp_path / "dir.ora")

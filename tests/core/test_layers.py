"""Layers: pixel formats, compositing, and every layer-stack operation with undo/redo."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.document import Document
from studio.core.layers import (
    Layer,
    LayerKind,
    colour_pixel,
    div255,
    flatten,
    lerp_pixels,
    premultiply,
    unpremultiply,
)


def _noise(w: int = 64, h: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _paint(doc: Document, index: int, rect, rgb, alpha: int = 255) -> None:
    """Paint a rectangle of colour into layer `index` as one undoable stroke."""
    layer = doc.layers[index]
    doc.begin_stroke(layer)
    doc.stroke_backup(rect)
    left, top, right, bottom = rect
    straight = np.array([*rgb, alpha], np.uint8).reshape(1, 1, 4)
    layer.pixels[top:bottom, left:right] = premultiply(straight)
    doc.stroke_touched(rect)
    doc.end_stroke("Paint")


def _state(doc: Document) -> tuple:
    return (
        [(x.name, x.visible, x.opacity, x.kind, x.pixels.tobytes()) for x in doc.layers],
        doc.active_index,
        doc.image.tobytes(),
        doc.mask.tobytes(),
    )


# pixel formats ------------------------------------------------------------------------------------
def test_div255_is_exact_rounding() -> None:
    x = np.arange(255 * 255 + 1, dtype=np.uint32)
    assert np.array_equal(div255(x), np.floor(x / 255 + 0.5).astype(np.uint32))


def test_premultiplied_round_trip_is_exact_for_every_valid_pixel() -> None:
    colour, alpha = np.meshgrid(np.arange(256), np.arange(256))
    valid = colour <= alpha
    pm = np.zeros((int(valid.sum()), 1, 4), np.uint8)
    pm[:, 0, :3] = colour[valid][:, None]
    pm[:, 0, 3] = alpha[valid]
    assert np.array_equal(premultiply(unpremultiply(pm)), pm)
    straight = np.array([[[200, 100, 50, 255], [200, 100, 50, 0]]], np.uint8)
    assert premultiply(straight).tolist() == [[[50, 100, 200, 255], [0, 0, 0, 0]]]  # BGRA


def test_flatten_blends_over_white_with_opacity() -> None:
    red = Layer.from_rgba("red", np.tile(np.array([255, 0, 0, 128], np.uint8), (2, 2, 1)), LayerKind.PAINT)
    out = flatten([red], (0, 0, 2, 2))
    assert out[0, 0].tolist() == [255, 127, 127]  # half red over white
    red.opacity = 0.5
    assert flatten([red], (0, 0, 2, 2))[0, 0].tolist() == [255, 191, 191]
    red.visible = False
    assert flatten([red], (0, 0, 2, 2))[0, 0].tolist() == [255, 255, 255]


def test_lerp_paints_and_erases() -> None:
    before = np.zeros((1, 3, 4), np.uint8)
    out = lerp_pixels(before, colour_pixel((255, 0, 0)), np.array([[0, 128, 255]], np.uint8))
    assert out.tolist() == [[[0, 0, 0, 0], [0, 0, 128, 128], [0, 0, 255, 255]]]
    assert lerp_pixels(out, np.zeros(4, np.uint8), np.full((1, 3), 255, np.uint8)).max() == 0
    rng = np.random.default_rng(1)
    before, weight = rng.integers(0, 256, (50, 70, 4), np.uint8), rng.integers(0, 256, (50, 70), np.uint8)
    for target in ([30, 30, 200, 255], [0, 0, 0, 0]):  # exact rounding, every channel alike (no alpha rules)
        w = weight[..., None].astype(np.uint32)
        expected = div255(before.astype(np.uint32) * (255 - w) + np.array(target, np.uint32) * w)
        assert np.array_equal(lerp_pixels(before, np.array(target, np.uint8), weight), expected)


# document layers ----------------------------------------------------------------------------------
def test_new_document_has_image_and_an_active_paint_layer() -> None:
    doc = Document(_noise())
    assert [(x.name, x.kind) for x in doc.layers] == [
        ("Image", LayerKind.IMAGE),
        ("Paint 1", LayerKind.PAINT),
    ]
    assert doc.active_layer is doc.layers[1]
    assert np.array_equal(doc.image, _noise())
    assert not doc.needs_layers_file()
    with pytest.raises(ValueError):
        doc.image[0, 0] = 0  # read-only view of the flattened picture


def test_paint_stroke_on_a_layer_shows_in_the_composite_and_undoes() -> None:
    original = _noise()
    doc = Document(original.copy())
    _paint(doc, 1, (10, 10, 20, 20), (0, 255, 0))
    assert (doc.image[10:20, 10:20] == (0, 255, 0)).all()
    assert np.array_equal(doc.image[:10], original[:10])
    edit = doc.undo_stack.undo_list[-1]
    assert edit.rect == (0, 0, 64, 48) and edit.nbytes == 2 * 64 * 48 * 4  # one (clipped) 128 px tile
    assert doc.needs_layers_file()
    doc.undo()
    assert np.array_equal(doc.image, original) and not doc.layers[1].pixels.any()
    doc.redo()
    assert (doc.image[10:20, 10:20] == (0, 255, 0)).all()


def test_stroke_backup_restores_tiles_across_a_large_layer() -> None:
    doc = Document(_noise(400, 300))
    image = doc.layers[0]
    before = image.pixels.copy()
    doc.begin_stroke(image)
    for rect in ((0, 0, 150, 20), (100, 0, 390, 290)):  # overlapping; spans many 128 px tiles
        old = doc.stroke_backup(rect)
        assert np.array_equal(old, before[rect[1] : rect[3], rect[0] : rect[2]])  # the stroke's start
        image.pixels[rect[1] : rect[3], rect[0] : rect[2]] = 9
        doc.stroke_touched(rect)
    doc.end_stroke()
    edit = doc.undo_stack.undo_list[-1]
    assert len(edit.tiles) == 12 and edit.rect == (0, 0, 400, 300)  # 3 x 4 tiles of 128 px, clipped
    assert all(not np.array_equal(b, a) for _, b, a in edit.tiles)
    painted = doc.layers[0].pixels.copy()
    doc.undo()
    assert np.array_equal(image.pixels, before)
    doc.redo()
    assert np.array_equal(image.pixels, painted)


def test_a_curved_stroke_keeps_only_the_tiles_it_painted() -> None:
    doc = Document(_noise(1024, 1024))
    layer = doc.layers[1]
    doc.begin_stroke(layer)
    for rect in ((0, 0, 10, 10), (1000, 1000, 1010, 1010)):  # two far corners: the box is the canvas
        doc.stroke_backup(rect)
        layer.pixels[rect[1] : rect[3], rect[0] : rect[2]] = 200
        doc.stroke_touched(rect)
    doc.end_stroke()
    edit = doc.undo_stack.undo_list[-1]
    assert len(edit.tiles) == 2 and edit.nbytes == 2 * 2 * 128 * 128 * 4  # not 2 x 4 MB
    doc.undo()
    assert not layer.pixels.any()


@pytest.mark.parametrize(
    ("operation", "check"),
    [
        (lambda d: d.add_layer("Sketch"), lambda d: [x.name for x in d.layers][-1] == "Sketch"),
        (lambda d: d.delete_layer(2), lambda d: len(d.layers) == 2),
        (lambda d: d.move_layer(2, 0), lambda d: d.layers[0].name == "Top"),
        (lambda d: d.set_layer_visible(2, False), lambda d: (d.image[0:4, 0:4] != (0, 0, 255)).any()),
        (lambda d: d.set_layer_opacity(2, 0.25), lambda d: d.layers[2].opacity == 0.25),
        (lambda d: d.rename_layer(2, "  Blue   box "), lambda d: d.layers[2].name == "Blue box"),
        (lambda d: d.merge_down(2), lambda d: len(d.layers) == 2 and d.layers[1].name == "Paint 1"),
        (lambda d: d.flatten(), lambda d: len(d.layers) == 1 and d.layers[0].kind is LayerKind.IMAGE),
        (
            lambda d: d.paste_layer(np.zeros((8, 8, 3), np.uint8)),
            lambda d: d.layers[-1].kind is LayerKind.IMAGE,
        ),
        (lambda d: d.extend(4, 0, 4, 2), lambda d: d.size == (72, 50)),
    ],
)
def test_every_layer_operation_is_one_undo_step(operation, check) -> None:
    doc = Document(_noise())
    _paint(doc, 1, (30, 30, 40, 40), (255, 0, 0))
    top = doc.add_layer("Top")
    _paint(doc, 2, (0, 0, 4, 4), (0, 0, 255), alpha=255)
    assert top is doc.layers[2]
    start = _state(doc)
    steps = len(doc.undo_stack)
    operation(doc)
    assert check(doc)
    assert len(doc.undo_stack) == steps + 1
    changed = _state(doc)
    assert doc.undo()
    assert _state(doc) == start
    assert doc.redo()
    assert _state(doc) == changed


def test_merge_down_keeps_the_picture() -> None:
    doc = Document(_noise())
    _paint(doc, 1, (5, 5, 30, 30), (255, 0, 0), alpha=200)
    doc.add_layer("Glaze")
    _paint(doc, 2, (20, 20, 50, 40), (0, 0, 255), alpha=100)
    doc.set_layer_opacity(2, 0.6)
    picture = doc.image.copy()
    doc.merge_down(2)
    assert np.abs(doc.image.astype(int) - picture).max() <= 1  # rounding of the merged layer only
    with pytest.raises(ValueError, match="bottom"):
        doc.merge_down(0)


def test_opacity_drag_is_one_undo_step() -> None:
    doc = Document(_noise())
    _paint(doc, 1, (0, 0, 8, 8), (0, 0, 0))
    for value in (0.9, 0.7, 0.5, 0.3):
        doc.set_layer_opacity(1, value)
    assert doc.undo_stack.undo_label() == "Opacity of Paint 1"
    doc.undo()
    assert doc.layers[1].opacity == 1.0 and doc.undo_stack.undo_label() == "Paint"


def test_active_layer_and_delete_rules() -> None:
    doc = Document(_noise())
    doc.add_layer("A")
    doc.add_layer("B")
    doc.set_active(1)
    steps = len(doc.undo_stack)
    assert doc.active_layer.name == "Paint 1" and len(doc.undo_stack) == steps  # selection: no undo step
    doc.move_layer(1, 3)
    assert doc.active_layer.name == "Paint 1" and doc.active_index == 3
    doc.delete_layer(3)
    assert doc.active_layer.name == "B"
    doc.flatten()
    with pytest.raises(ValueError, match="at least one layer"):
        doc.delete_layer(0)
    with pytest.raises(IndexError):
        doc.set_layer_visible(5, False)


def test_accepted_result_is_a_layer_holding_the_changed_pixels() -> None:
    original = _noise()
    doc = Document(original.copy())
    _paint(doc, 1, (0, 0, 10, 10), (0, 255, 0))
    result = doc.image.copy()
    result[5:9, 20:30] = 7
    assert doc.apply_image(result, "Inpaint result") == (20, 5, 30, 9)
    layer = doc.layers[-1]
    assert layer.kind is LayerKind.RESULT and layer.name == "Result 1" and doc.active_layer is layer
    assert layer.bounds == (20, 5, 30, 9) and int((layer.pixels[..., 3] > 0).sum()) == 40
    assert np.array_equal(doc.image, result)
    doc.set_layer_visible(len(doc.layers) - 1, False)  # the result can be hidden: the picture before
    assert (doc.image[0:10, 0:10] == (0, 255, 0)).all() and np.array_equal(doc.image[20:], original[20:])
    assert doc.apply_image(doc.image.copy()) is None


def test_paste_is_centred_and_cropped() -> None:
    doc = Document(_noise(20, 10))
    big = np.zeros((14, 30, 4), np.uint8)
    big[..., 0], big[..., 3] = 255, 255
    layer, cropped = doc.paste_layer(big)
    assert cropped and layer.bounds == (0, 0, 20, 10) and (doc.image == (255, 0, 0)).all()
    small, cropped = doc.paste_layer(np.full((2, 4, 3), 9, np.uint8))
    assert not cropped and small.bounds == (8, 4, 12, 6) and small.name == "Pasted 2"


def test_extend_grows_every_layer_and_outpaint_result_becomes_a_layer() -> None:
    original = _noise()
    doc = Document(original.copy())
    _paint(doc, 1, (0, 0, 4, 4), (0, 0, 255))
    doc.extend(4, 0, 0, 0)
    assert doc.size == (68, 48) and all(x.pixels.shape == (48, 68, 4) for x in doc.layers)
    assert (doc.image[:, :4] == 255).all() and (doc.image[0:4, 4:8] == (0, 0, 255)).all()
    assert not doc.layers[1].pixels[:, :4].any()  # a paint layer grows with transparency
    result = doc.image.copy()
    result[:, :10] = 3
    doc.extend(0, 0, 0, 0, image=result, label="Outpaint result")
    assert np.array_equal(doc.image, result) and doc.layers[-1].kind is LayerKind.RESULT
    doc.undo()
    doc.undo()
    assert doc.size == (64, 48) and len(doc.layers) == 2


def test_undo_budget_counts_layers_held_only_by_the_history() -> None:
    doc = Document(_noise(100, 100), max_undo_bytes=3 * 100 * 100 * 4)
    for i in range(5):
        doc.add_layer(f"L{i}")
        doc.delete_layer(doc.active_index)  # each deleted layer lives on only in the history
    assert doc.undo_stack.nbytes <= 3 * 100 * 100 * 4
    assert len(doc.undo_stack) < 10


def test_listeners_hear_layer_changes() -> None:
    doc = Document(_noise())
    seen: list = []
    doc.add_listener(lambda rect: seen.append((rect, doc.last_change, doc.last_layers_change)))
    _paint(doc, 1, (1, 2, 3, 4), (0, 0, 0))
    doc.set_layer_visible(1, False)
    doc.rename_layer(1, "x")
    assert seen[0] == ((1, 2, 3, 4), (True, False), False)
    assert seen[-2] == ((1, 2, 3, 4), (True, False), True)  # hidden: the layer's bounds repaint
    assert seen[-1] == (None, (False, False), True)  # renamed: the picture did not change


def test_eyedropper_samples_the_composite() -> None:
    doc = Document(_noise())
    _paint(doc, 1, (0, 0, 4, 4), (10, 20, 30))
    assert doc.composite_pixel(2, 2) == (10, 20, 30)
    assert doc.composite_pixel(-5, 1000) == tuple(int(c) for c in doc.image[47, 0])

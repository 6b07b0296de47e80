"""The canvas on hostile image files (issue 11): a message, and the open document is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.bad_files import bomb_png, png_16bit


def test_canvas_open_of_a_bomb_says_why_and_keeps_the_document(workspace: Any, tmp_path: Path) -> None:
    before = workspace.doc.image.copy()
    assert not workspace.open_file(bomb_png(tmp_path / "bomb.png"))
    assert workspace.status.text().startswith("Could not open bomb.png: bomb.png is too large to open")
    assert np.array_equal(workspace.doc.image, before)


def test_canvas_opens_a_16bit_png_with_its_greys(workspace: Any, tmp_path: Path) -> None:
    path = png_16bit(tmp_path / "grey16.png", np.full((16, 24), 257 * 100))
    assert workspace.open_file(path)
    assert workspace.doc.size == (24, 16) and int(workspace.doc.image.max()) == 100

"""The canvas's pictures as control images (issue 14): each layer by name, as straight-alpha RGBA at the
document's size (a transparent paint layer keeps its alpha: the scribble preprocessor reads its
strokes from it), and the flattened visible layers. Hidden layers count: a scribble layer is usually
hidden so it is not painted into the picture the job starts from."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from studio.core.document import Document


class DocumentImages:
    """`CanvasImages` (studio.ui.widgets.control_sources) over the canvas's current document."""

    def __init__(self, doc: Callable[[], Document]) -> None:
        self._doc = doc

    def layer_names(self) -> list[str]:
        """Top layer first, as the Layers panel lists them."""
        return [layer.name for layer in reversed(self._doc().layers)]

    def layer_image(self, name: str) -> Image.Image | None:
        """The topmost layer called `name`, its pixels now; None when there is none."""
        for layer in reversed(self._doc().layers):
            if layer.name == name:
                return Image.fromarray(layer.rgba(), "RGBA")
        return None

    def flattened(self) -> Image.Image:
        return self._doc().image_pil()

"""What the history strip's context menu and a dropped PNG do: reuse parameters or seed, copy, show
in folder, delete (after confirmation), open in canvas, upscale, load a PNG's parameters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage

from studio.core.images import ImageReadError
from studio.core.request import GenerationRequest, Mode
from studio.ui.dialogs.prompts import Prompts
from studio.ui.dialogs.upscale_dialog import AskUpscale, ask_upscale
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.history import HistoryStrip
from studio.ui.widgets.image_view import ImageView

if TYPE_CHECKING:
    from studio.core.metadata import ImageMetadata

log = logging.getLogger(__name__)


def read_metadata(path: Path) -> ImageMetadata | None:
    """The image's metadata, None when it has none; ImageReadError when the file cannot be opened."""
    from studio.core.images import ImageReadError
    from studio.core.metadata import read_png_metadata

    try:
        return read_png_metadata(path)
    except ImageReadError:  # a folder, an image too large to open: the artist is told why
        raise
    except (OSError, ValueError) as exc:
        log.warning("Cannot read metadata of %s: %s", path, exc)
        return None


def request_from_file(
    path: Path, base: GenerationRequest, notes: list[str] | None = None
) -> GenerationRequest | None:
    """The request stored in a PNG (Studio JSON or A1111 text), or None when it has none; what could
    not be applied ("not applied: Hires upscale, ...") is added to `notes`."""
    from studio.core.metadata import request_from_metadata

    meta = read_metadata(path)
    if meta is None:
        return None
    try:
        return request_from_metadata(meta, base, notes)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("Unusable metadata in %s: %s", path, exc)
        return None


def upscale_request(base: GenerationRequest, image: object, options: object) -> GenerationRequest:
    """ "Upscale…" of `image` with `options` (an UpscaleOptions); the refine uses `base`'s prompts,
    model, steps, sampler and seed."""
    from studio.core.request import UpscaleOptions

    assert isinstance(options, UpscaleOptions)
    return base.replace(
        mode=Mode.IMG2IMG,
        init_image=image,
        mask=None,
        batch=1,
        controls=(),
        upscale=options,
        strength=options.refine or base.strength,
    )


def summary(request: GenerationRequest) -> str:
    prompt = request.prompt if len(request.prompt) < 160 else request.prompt[:157] + "…"
    return (
        f"“{prompt}”\n\n{request.width}×{request.height}, {request.steps} steps, "
        f"{request.scheduler}, guidance {request.guidance:g}, seed {request.seed}"
    )


class HistoryActions(QObject):
    open_in_canvas_requested = Signal(object)  # Path
    upscale_requested = Signal(object)  # GenerationRequest: "Upscale…" of a history image
    status_message = Signal(str)
    notes_found = Signal(str)  # what a PNG's parameters had that was not applied (the banner shows it)

    def __init__(
        self,
        vm: RequestViewModel,
        history: HistoryStrip,
        view: ImageView,
        prompts: Callable[[], Prompts],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.vm, self.history, self.view = vm, history, view
        self._prompts = prompts
        self.ask_upscale: AskUpscale = ask_upscale  # the dialog (tests answer it)
        self.upscaler_names: Callable[[], list[str]] = list  # the model upscalers on offer (main window's)
        history.action_requested.connect(self.run)
        history.image_activated.connect(self.show)

    def run(self, action: str, path: Path) -> None:
        handler = getattr(self, action, None)
        if handler is None:
            log.warning("Unknown history action %s", action)
            return
        handler(Path(path))

    def show(self, path: Path) -> None:
        image = QImage(str(path))
        if image.isNull():
            self.status_message.emit(f"Cannot open {path.name}")
            return
        self.view.set_image(image, path.name)

    def reuse_parameters(self, path: Path) -> bool:
        notes: list[str] = []
        try:
            request = request_from_file(path, self.vm.request(), notes)
        except ImageReadError as exc:
            self._prompts().info("Cannot read the image", f"{exc}.")
            return False
        if request is None:
            self._prompts().info(
                "No parameters", f"{path.name} has no generation parameters Studio can read."
            )
            return False
        self._load(path, request, notes)
        return True

    def reuse_seed(self, path: Path) -> bool:
        try:
            request = request_from_file(path, self.vm.request())
        except ImageReadError as exc:
            self.status_message.emit(f"{exc}.")
            return False
        if request is None:
            self.status_message.emit(f"{path.name} has no seed to reuse")
            return False
        self.vm.reuse_seed(request.seed)
        self.status_message.emit(f"Seed {request.seed} from {path.name}")
        return True

    def open_in_canvas(self, path: Path) -> None:
        self.open_in_canvas_requested.emit(path)

    def upscale(self, path: Path) -> GenerationRequest | None:
        """Ask for the factor, upscaler and refine, then request the upscale job: the image as it is on
        disk (never changed), refined with its own parameters when it has them (else the tab's). The
        result is saved as a new image, like any result."""
        from studio.core.images import open_image

        try:
            image = open_image(path)
        except ImageReadError as exc:
            self._prompts().info("Cannot read the image", f"{exc}.")
            return None
        options = self.ask_upscale(self.history, image.size, self.upscaler_names(), f"Upscale {path.name}")
        if options is None:
            return None
        try:
            base = request_from_file(path, self.vm.request()) or self.vm.request()
        except ImageReadError:
            base = self.vm.request()
        if image.mode not in ("RGB", "RGBA"):
            alpha = "A" in image.getbands() or "transparency" in image.info  # a palette PNG's tRNS too
            image = image.convert("RGBA" if alpha else "RGB")
        request = upscale_request(base, image, options)
        self.upscale_requested.emit(request)
        return request

    def copy(self, path: Path) -> None:
        image = QImage(str(path))
        if not image.isNull():
            QGuiApplication.clipboard().setImage(image)
            self.status_message.emit(f"Copied {path.name}")

    def show_in_folder(self, path: Path) -> bool:
        """Open the file's folder in the file manager; without one, the status bar says where it is."""
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))):
            return True
        self.status_message.emit(f"No file manager to open; the file is {path}")
        return False

    def delete(self, path: Path) -> bool:
        if not self._prompts().confirm(
            "Delete image", f"Delete {path.name} from the disk? This cannot be undone."
        ):
            return False
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            self._prompts().info("Delete failed", f"Could not delete {path.name}: {exc}")
            return False
        self.history.remove_path(path)
        self.status_message.emit(f"Deleted {path.name}")
        return True

    def offer_dropped(self, path: Path) -> bool:
        """A PNG dropped on the window: offer to load its parameters."""
        notes: list[str] = []
        try:
            request = request_from_file(path, self.vm.request(), notes)
        except ImageReadError as exc:
            self._prompts().info("Cannot read the image", f"{exc}.")
            return False
        if request is None:
            self._prompts().info("No parameters", f"{path.name} has no A1111 or Studio parameters.")
            return False
        if not self._prompts().confirm(
            "Load parameters?", f"Load the parameters of {path.name}?\n\n{summary(request)}"
        ):
            return False
        self._load(path, request, notes)
        return True

    def _load(self, path: Path, request: GenerationRequest, notes: list[str]) -> None:
        """Load `request` into the Generate tab; the notes (what was not applied) go to the artist."""
        self.vm.set_request(request.replace(init_image=None))
        if not notes:
            self.status_message.emit(f"Parameters loaded from {path.name}")
            return
        text = "\n".join(dict.fromkeys(notes))
        self.status_message.emit(f"Parameters loaded from {path.name}; {'; '.join(dict.fromkeys(notes))}")
        self.notes_found.emit(f"Parameters loaded from {path.name}.\n{text}")

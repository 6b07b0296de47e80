"""The one exception the model loaders raise (the bottom layer: every loader module may import it)."""

from __future__ import annotations


class ModelLoadError(Exception):
    """A model could not be loaded; ``str(exc)`` is a message an artist can act on."""


def short(exc: BaseException, limit: int = 300) -> str:
    """First line of an exception's text, shortened for a message."""
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"

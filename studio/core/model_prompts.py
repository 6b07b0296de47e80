"""Prompts a model is known to draw well ("Prompts that work"), shipped as resources/prompts/*.txt."""

from __future__ import annotations

import logging

from studio.core.paths import resource

log = logging.getLogger(__name__)
BUILTIN_PROMPTS = "studio-mini.txt"


def prompts_that_work(ref: str) -> list[str]:
    """The built-in model's list (one prompt a line, `#` comments); empty for other models."""
    if ref != "":
        return []
    path = resource("prompts", BUILTIN_PROMPTS)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        log.warning("No prompt list at %s", path)
        return []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]

"""Styles: a preset's prompt and negative prompt, applied at generation time (A1111 semantics).

A style's text with `{prompt}` has it replaced by the artist's prompt; a style without it is appended
after a comma. The prompt box keeps the artist's own text; `apply_styles` makes the request the
engine runs (its `styles` field names them for the PNG metadata).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from studio.core.presets import PROMPT_PLACEHOLDER, Preset
from studio.core.request import GenerationRequest

STYLE_FIELDS = ("prompt", "negative_prompt")


@dataclass(frozen=True)
class Style:
    name: str
    prompt: str = ""
    negative_prompt: str = ""


def style_of(preset: Preset) -> Style | None:
    """The style a preset carries (its prompt texts), or None when it sets no prompt text."""
    texts = {key: preset.fields.get(key) for key in STYLE_FIELDS}
    if not any(isinstance(text, str) and text.strip() for text in texts.values()):
        return None
    prompt, negative = (text if isinstance(text, str) else "" for text in texts.values())
    return Style(preset.name, prompt, negative)


def without_style(preset: Preset) -> Preset:
    """The preset without its prompt texts (those apply as a style)."""
    fields = {key: value for key, value in preset.fields.items() if key not in STYLE_FIELDS}
    return Preset(preset.name, fields, preset.schema_version, preset.builtin, preset.path)


def apply_style_text(style_text: str, text: str) -> str:
    """`{prompt}` in `style_text` replaced by `text`, or `style_text` appended after a comma."""
    if not style_text.strip():
        return text
    if PROMPT_PLACEHOLDER in style_text:
        merged = style_text.replace(PROMPT_PLACEHOLDER, text)
        return re.sub(r"^[\s,]+|[\s,]+$", "", merged) if not text.strip() else merged
    return f"{text}, {style_text}" if text.strip() else style_text


def apply_styles(request: GenerationRequest, styles: Sequence[Style]) -> GenerationRequest:
    """The request with every style's texts applied in order, and their names in `styles`."""
    if not styles:
        return request
    prompt, negative = request.prompt, request.negative_prompt
    for style in styles:
        prompt = apply_style_text(style.prompt, prompt)
        negative = apply_style_text(style.negative_prompt, negative)
    names = ", ".join(style.name for style in styles)
    return request.replace(prompt=prompt, negative_prompt=negative, styles=names)

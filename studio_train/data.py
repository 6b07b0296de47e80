"""Emoji data set: render Noto Color Emoji glyphs to 64x64 RGB images with captions.

Kept: fully-qualified emoji from the `emoji` package that the font renders as one glyph,
without skin-tone modifiers (U+1F3FB..U+1F3FF), without flags (regional-indicator pairs
and tag sequences) and without gendered ZWJ variants ("man astronaut", "woman running",
"family man woman boy"): like skin tones they repeat a kept, gender-neutral emoji
("astronaut", "person running", "family") with a near-identical picture at 64x64.
Ordering is deterministic (sorted by code points).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
FONT_SIZE = 109  # the only size the CBDT colour font renders at
SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
VS16 = "\ufe0f"
ZWJ = "\u200d"
# MAN, WOMAN, BOY, GIRL, FEMALE SIGN, MALE SIGN: inside a ZWJ sequence they make a gender variant
GENDER_PARTS = {"\U0001f468", "\U0001f469", "\U0001f466", "\U0001f467", "\u2640", "\u2642"}


@dataclass(frozen=True)
class EmojiItem:
    char: str
    name: str  # lowercased caption base, e.g. "red apple"


def _is_flag(ch: str) -> bool:
    cps = [ord(c) for c in ch]
    if any(0x1F1E6 <= c <= 0x1F1FF for c in cps):  # regional indicators
        return True
    if any(0xE0020 <= c <= 0xE007F for c in cps):  # tag sequences (England, Scotland, ...)
        return True
    return "flag" in _emoji_name(ch).split()


def is_gender_variant(ch: str) -> bool:
    """A ZWJ sequence built with a gendered person or sign (its neutral form is kept)."""
    return ZWJ in ch and any(c in GENDER_PARTS for c in ch)


def _emoji_name(ch: str) -> str:
    import emoji

    data = emoji.EMOJI_DATA.get(ch)
    if data is None:
        return ""
    name = data["en"].strip(":").replace("_", " ")
    return re.sub(r"\s+", " ", name).strip().lower()


def caption_name(ch: str) -> str:
    """Lowercased name: unicodedata for single code points, the emoji package otherwise."""
    base = ch.replace(VS16, "")
    if len(base) == 1:
        try:
            return unicodedata.name(base).lower()
        except ValueError:
            pass
    return _emoji_name(ch)


def list_emoji() -> list[EmojiItem]:
    """The kept emoji, sorted by code points, with unique names."""
    import emoji

    items: dict[str, EmojiItem] = {}
    for ch, data in emoji.EMOJI_DATA.items():
        if data.get("status") != emoji.STATUS["fully_qualified"]:
            continue
        if any(c in SKIN_TONES for c in ch) or _is_flag(ch) or is_gender_variant(ch):
            continue
        name = caption_name(ch)
        if not name or name in items:
            continue
        items[name] = EmojiItem(ch, name)
    return sorted(items.values(), key=lambda it: [ord(c) for c in it.char])


def render_emoji(ch: str, font: ImageFont.FreeTypeFont, size: int = 64) -> Image.Image | None:
    """Render one glyph on white, centred in a square, resized to `size`; None if not one glyph."""
    canvas = Image.new("RGBA", (320, 200), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((20, 20), ch, font=font, embedded_color=True)
    bbox = canvas.getbbox()
    if bbox is None:
        return None
    w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
    if w > 150 or h > 150:  # several glyphs: the sequence is not in the font
        return None
    glyph = canvas.crop(bbox)
    side = max(w, h, 128)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - w) // 2, (side - h) // 2))
    return square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def _is_tofu(img: Image.Image) -> bool:
    a = np.asarray(img, dtype=np.float32)
    sat = a.max(axis=2) - a.min(axis=2)
    return float(sat.mean()) < 1.0 and float((a < 128).mean()) < 0.02


def build_dataset(limit: int | None = None, size: int = 64) -> tuple[list[EmojiItem], np.ndarray]:
    """Render the data set: items and uint8 images (N, size, size, 3)."""
    font = ImageFont.truetype(str(FONT_PATH), FONT_SIZE)
    kept: list[EmojiItem] = []
    images: list[np.ndarray] = []
    for item in list_emoji():
        img = render_emoji(item.char, font, size)
        if img is None or _is_tofu(img):
            continue
        kept.append(item)
        images.append(np.asarray(img, dtype=np.uint8))
        if limit is not None and len(kept) >= limit:
            break
    log.info("rendered %d emoji at %dx%d", len(kept), size, size)
    return kept, np.stack(images)


PHRASINGS = ("{}", "an emoji of a {}", "a {} emoji")


def captions_for(name: str) -> list[str]:
    return [p.format(name) for p in PHRASINGS]


def all_captions(items: list[EmojiItem]) -> list[str]:
    return [c for it in items for c in captions_for(it.name)]

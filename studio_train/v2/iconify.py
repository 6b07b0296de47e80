"""Iconify icon sets (icons.json, chars.json) joined to emoji concepts with CLDR names.

A concept is one fully-qualified emoji (flags, skin tones and gendered ZWJ variants left out as in
studio_train.data) named by its CLDR name from the `emoji` package ("red heart"). An icon set's
icon for it is found by the name's slug ("red-heart", also through the set's aliases) or by its
code points in the set's chars.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VS16 = "\ufe0f"


@dataclass(frozen=True)
class Concept:
    char: str
    name: str  # CLDR name, lowercased: "red heart"

    @property
    def slug(self) -> str:
        return slugify(self.name)

    def other_slugs(self) -> list[str]:
        """Older names of the emoji (emoji package aliases, the Unicode name): older sets use them."""
        import unicodedata

        import emoji

        names = [a.strip(":").replace("_", " ") for a in emoji.EMOJI_DATA.get(self.char, {}).get("alias", [])]
        base = self.char.replace(VS16, "")
        if len(base) == 1:
            names.append(unicodedata.name(base, ""))
        return [slugify(n) for n in names if n]


@dataclass(frozen=True)
class Icon:
    body: str
    left: float
    top: float
    width: float
    height: float

    def svg(self) -> str:
        box = f"{self.left} {self.top} {self.width} {self.height}"
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{box}" width="{self.width}" height="{self.height}">{self.body}</svg>'
        )


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def cldr_name(ch: str) -> str:
    import emoji

    data = emoji.EMOJI_DATA.get(ch)
    if data is None:
        return ""
    name = data["en"].strip(":").replace("_", " ")
    name = re.sub(r"[“”\"]", "", name)
    return re.sub(r"\s+", " ", name).strip().lower()


def list_concepts() -> list[Concept]:
    """Kept emoji with unique CLDR names, sorted by code points."""
    import emoji

    from studio_train.data import SKIN_TONES, _is_flag, is_gender_variant

    found: dict[str, Concept] = {}
    for ch, data in emoji.EMOJI_DATA.items():
        if data.get("status") != emoji.STATUS["fully_qualified"]:
            continue
        if any(c in SKIN_TONES for c in ch) or _is_flag(ch) or is_gender_variant(ch):
            continue
        name = cldr_name(ch)
        if name and name not in found:
            found[name] = Concept(ch, name)
    return sorted(found.values(), key=lambda c: [ord(x) for x in c.char])


def code_key(ch: str) -> str:
    """chars.json's key for a sequence: lowercase hex code points joined by '-', without VS16."""
    return "-".join(f"{ord(c):x}" for c in ch if c != VS16)


class IconSet:
    """Lookup of icons by name (aliases followed) and by code points."""

    def __init__(self, icons_json: dict, chars_json: dict) -> None:
        self.width = float(icons_json.get("width", 16))
        self.height = float(icons_json.get("height", 16))
        self.icons: dict[str, dict] = icons_json["icons"]
        self.aliases: dict[str, dict] = icons_json.get("aliases", {})
        self.chars = {k.replace("-fe0f", ""): v for k, v in chars_json.items()}

    def _resolve(self, name: str, depth: int = 0) -> dict | None:
        if name in self.icons:
            return self.icons[name]
        alias = self.aliases.get(name)
        if alias is None or depth > 5 or set(alias) - {"parent"}:  # transformed aliases: skipped
            return None
        return self._resolve(alias["parent"], depth + 1)

    def icon(self, name: str) -> Icon | None:
        data = self._resolve(name)
        if data is None:
            return None
        return Icon(
            data["body"],
            float(data.get("left", 0)),
            float(data.get("top", 0)),
            float(data.get("width", self.width)),
            float(data.get("height", self.height)),
        )

    def find(self, concept: Concept) -> Icon | None:
        by_name = self.icon(concept.slug)
        if by_name is not None:
            return by_name
        name = self.chars.get(code_key(concept.char))
        if name:
            return self.icon(name)
        for slug in concept.other_slugs():
            icon = self.icon(slug)
            if icon is not None:
                return icon
        return None

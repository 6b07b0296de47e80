"""The v2 training set: every permissive emoji set rendered at 128 px, with captions.

Cached as one .npz per (size, set versions) in the cache folder: rendering ~8k SVGs takes a
minute or two, loading the cache a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio_train.v2.fetch import fetch_tarball, read_package_json
from studio_train.v2.iconify import Concept, IconSet, list_concepts
from studio_train.v2.render import ensure_gui_app, render_svg
from studio_train.v2.sets import REFERENCE, SETS, EmojiSet, by_prefix

log = logging.getLogger(__name__)

# Phrasings used in training; the evaluation also asks unseen ones (bench/eval_mini.py).
PHRASINGS = ("{}", "an emoji of a {}", "a {} emoji")


@dataclass
class EmojiData:
    names: list[str]  # concept names, index = concept id
    concept: np.ndarray  # (N,) int: concept id of each image
    style: list[str]  # (N,) set prefix of each image
    images: np.ndarray  # (N, size, size, 3) uint8

    def __len__(self) -> int:
        return len(self.concept)

    def subset(self, keep: np.ndarray) -> EmojiData:
        idx = np.flatnonzero(keep) if keep.dtype == bool else keep
        return EmojiData(self.names, self.concept[idx], [self.style[i] for i in idx], self.images[idx])

    def of_style(self, prefix: str) -> EmojiData:
        return self.subset(np.array([s == prefix for s in self.style]))

    def counts(self) -> dict[str, int]:
        return {s.prefix: self.style.count(s.prefix) for s in SETS if s.prefix in self.style}


def caption(name: str, prefix: str, phrasing: str = "{}") -> str:
    """'red heart' for the reference style, 'red heart, twemoji style' for the others."""
    style = by_prefix(prefix).style
    text = phrasing.format(name)
    return f"{text}, {style} style" if style and prefix != REFERENCE else text


def captions_of(data: EmojiData, phrasings: tuple[str, ...] = PHRASINGS) -> list[list[str]]:
    """Per image, its captions in each phrasing."""
    return [
        [caption(data.names[c], s, p) for p in phrasings]
        for c, s in zip(data.concept.tolist(), data.style, strict=True)
    ]


def _cache_key(size: int, sets: tuple[EmojiSet, ...], limit: int | None) -> str:
    spec = json.dumps([size, [(s.prefix, s.version) for s in sets], limit, PHRASINGS, 2])
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def build(
    cache: Path, size: int = 128, limit: int | None = None, sets: tuple[EmojiSet, ...] = SETS
) -> EmojiData:
    """All sets rendered at `size` (cached). `limit`: only the first N concepts (tests)."""
    path = cache / f"emoji-v2-{size}px-{_cache_key(size, sets, limit)}.npz"
    if path.exists():
        with np.load(path) as z:
            return EmojiData(
                json.loads(str(z["names"])), z["concept"], json.loads(str(z["style"])), z["images"]
            )
    data = _render_all(cache, size, limit, sets)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        names=json.dumps(data.names),
        concept=data.concept,
        style=json.dumps(data.style),
        images=data.images,
    )
    tmp.replace(path)
    log.info("emoji data: %s images %s -> %s", len(data), data.counts(), path)
    return data


def _render_all(cache: Path, size: int, limit: int | None, sets: tuple[EmojiSet, ...]) -> EmojiData:
    ensure_gui_app()
    concepts: list[Concept] = list_concepts()[:limit] if limit else list_concepts()
    concept_ids: list[int] = []
    styles: list[str] = []
    images: list[np.ndarray] = []
    for emoji_set in sets:
        tarball = fetch_tarball(emoji_set, cache)
        icons = IconSet(read_package_json(tarball, "icons.json"), read_package_json(tarball, "chars.json"))
        for cid, concept in enumerate(concepts):
            icon = icons.find(concept)
            image = render_svg(icon.svg(), size) if icon is not None else None
            if image is None:
                continue
            concept_ids.append(cid)
            styles.append(emoji_set.prefix)
            images.append(image)
    return EmojiData([c.name for c in concepts], np.array(concept_ids), styles, np.stack(images))

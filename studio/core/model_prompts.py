"""Prompts a model is known to draw well ("Prompts that work"), shipped as resources/prompts/*.txt."""

from __future__ import annotations

import logging
from pathlib import Path

from studio.core.jsontext import parse_json
from studio.core.paths import builtin_model_dir, resource

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


CONCEPTS_FILE = "concepts.json"  # {"names": [...]}: what a model was trained to draw (studio-mini v2)
MAX_CONCEPTS = 20_000  # a hostile or broken file must not make the completer unusable


def prompt_completions(ref: str) -> list[str]:
    """Phrases the prompt box offers as you type: the model folder's `concepts.json` names when it
    has one (the built-in model lists every concept it was trained on), else its "Prompts that work"."""
    folder = builtin_model_dir() if ref == "" else Path(ref)
    names = _concept_names(folder / CONCEPTS_FILE) if folder.is_dir() else []
    return names or prompts_that_work(ref)


def _concept_names(path: Path) -> list[str]:
    """The names in a `concepts.json`; [] (logged) when it is missing, unreadable or malformed."""
    try:
        data = parse_json(path.read_text(encoding="utf-8"))  # too deeply nested: a ValueError too
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("Ignoring %s: %s", path, exc)
        return []
    names = data.get("names") if isinstance(data, dict) else None
    if not isinstance(names, list):
        log.warning("Ignoring %s: no list of names", path)
        return []
    unique = dict.fromkeys(n.strip() for n in names[:MAX_CONCEPTS] if isinstance(n, str) and n.strip())
    return list(unique)

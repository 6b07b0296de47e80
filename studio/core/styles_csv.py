"""A1111 `styles.csv` files (columns name, prompt, negative_prompt) read as preset fields."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

PROMPT_PLACEHOLDER = "{prompt}"
STYLE_FIELDS = ("prompt", "negative_prompt")


class StylesCsvError(ValueError):
    """The file cannot be read as an A1111 styles file; the message says why."""


@dataclass(frozen=True)
class StyleRow:
    line: int
    name: str  # "" when the row has none
    fields: dict[str, str]  # prompt / negative_prompt as `{prompt}` templates


def read_styles_csv(path: Path) -> list[StyleRow]:
    return [
        StyleRow(line, (row.get("name") or "").strip(), _style_fields(row)) for line, row in _read_rows(path)
    ]


def style_template(text: str) -> str:
    """A1111 appends a style without `{prompt}` to the prompt: make that explicit."""
    text = text.strip()
    return text if PROMPT_PLACEHOLDER in text else f"{PROMPT_PLACEHOLDER}, {text}"


def _style_fields(row: dict[str, str]) -> dict[str, str]:
    return {key: style_template(row.get(key) or "") for key in STYLE_FIELDS if (row.get(key) or "").strip()}


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "name" not in [h.strip() for h in reader.fieldnames]:
                raise StylesCsvError(f"{path.name} is not an A1111 styles file: it has no “name” column.")
            rows = []
            for row in reader:
                clean = {(k or "").strip(): v for k, v in row.items() if isinstance(v, str)}
                rows.append((reader.line_num, clean))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise StylesCsvError(f"Could not read {path.name}: {exc}") from exc

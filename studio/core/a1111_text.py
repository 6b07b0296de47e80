"""A1111's `parameters` text: the prompt, `Negative prompt: ...`, then one `Key: value, ...` line.

What A1111, Forge and ComfyUI's A1111-style savers write and read; values with `,:"` or a newline are
JSON-quoted. Studio's own keys (`prompt`, `negative_prompt`, `studio`) are not pairs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

_TEXT_KEYS = ("prompt", "negative_prompt", "studio")
_NEGATIVE = "Negative prompt:"
_RE_PARAM = re.compile(r'\s*(\w[\w \-/+.()]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def format_a1111(params: Mapping[str, object]) -> str:
    """The A1111 `parameters` text: prompt lines, `Negative prompt: ...`, then `Key: value, ...`."""
    lines = [str(params.get("prompt") or "")]
    negative = str(params.get("negative_prompt") or "")
    if negative:
        lines.append(f"{_NEGATIVE} {negative}")
    pairs = [
        f"{key}: {_quote(_format_value(value))}"
        for key, value in params.items()
        if key not in _TEXT_KEYS and value is not None and not isinstance(value, (dict, list, tuple))
    ]
    if pairs:
        lines.append(", ".join(pairs))
    return "\n".join(lines)


def parse_a1111(text: str) -> dict[str, str]:
    """Parse A1111-style text into {"prompt", "negative_prompt", then A1111 keys as written}."""
    lines = text.replace("\r\n", "\n").strip().split("\n")
    index = _settings_line_index(lines)
    body = lines if index is None else lines[:index]
    prompt: list[str] = []
    negative: list[str] = []
    for line in body:
        if not negative and line.startswith(_NEGATIVE):
            negative.append(line[len(_NEGATIVE) :].strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    result = {"prompt": "\n".join(prompt).strip(), "negative_prompt": "\n".join(negative).strip()}
    if index is not None:
        for line in lines[index:]:  # the settings line, then e.g. "Template: ..." lines
            for key, value in _RE_PARAM.findall(line):
                result.setdefault(key.strip(), _unquote(value.strip()))
    return result


def _settings_line_index(lines: list[str]) -> int | None:
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Steps: "):
            return i
    if lines and len(_RE_PARAM.findall(lines[-1])) >= 3:
        return len(lines) - 1
    return None


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _quote(text: str) -> str:
    if any(c in text for c in ',:\n"'):
        return json.dumps(text, ensure_ascii=False)
    return text


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return str(json.loads(text))
        except ValueError:
            return text[1:-1]
    return text

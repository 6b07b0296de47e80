"""JSON read from files Studio did not write itself (settings, presets, model headers, PNG chunks).

`json.loads` raises RecursionError on deeply nested input (100000 `[`); here that is a ValueError
like any other unparseable text, so the callers' "set aside / report and go on" handling covers it.
"""

from __future__ import annotations

import json


class JSONTooDeepError(ValueError):
    """The text nests arrays/objects deeper than Python's JSON parser can follow."""


def parse_json(text: str | bytes) -> object:
    """The parsed value; ValueError (JSONDecodeError, JSONTooDeepError) when it cannot be read."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise JSONTooDeepError("it is nested too deeply to be read") from exc

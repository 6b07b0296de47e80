"""The warning shown when a prompt is longer than the model's text encoder reads.

The engine counts the tokens with the model's own tokenizer (`studio.engine.prompt_tokens`); this
module only words the warning, so the app, the canvas and the CLI say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable


def too_long_message(label: str, tokens: int, readable: int) -> str:
    """E.g. "The prompt is 95 tokens; this model reads the first 75 — the rest is ignored."."""
    return f"The {label} is {tokens} tokens; this model reads the first {readable} — the rest is ignored."


def length_warnings(counts: Iterable[tuple[str, int]], readable: int) -> tuple[str, ...]:
    """One warning per (label, token count) longer than `readable` tokens, in the given order."""
    return tuple(too_long_message(label, tokens, readable) for label, tokens in counts if tokens > readable)

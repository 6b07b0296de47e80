"""A1111's prompt syntax: attention weights, `BREAK`, and `<lora:...>` tags.

`parse_attention` is AUTOMATIC1111's `modules/prompt_parser.py::parse_prompt_attention`, chunk for
chunk: `(a)` multiplies a's weight by 1.1, `[a]` divides it by 1.1, `(a:1.3)` multiplies it by 1.3,
nesting multiplies, `\\(` `\\)` `\\[` `\\]` `\\\\` are literal characters, brackets left open apply
to the end of the prompt and a closing bracket without an opener is literal text, `BREAK` (a whole
word, upper case) is a chunk separator given as ``("BREAK", -1.0)``, and neighbouring chunks of equal
weight are merged. As in A1111, a BREAK inside brackets has its marker weight multiplied too
(``("BREAK", -1.1)``): A1111's encoder treats only ``("BREAK", -1.0)`` as a separator (see `is_break`). The one departure: a weight A1111 cannot read (`(a:.)`, where A1111 raises) is
kept as literal text here.

`extract_loras` removes A1111's extra-network tags for LoRA / LyCORIS from a prompt, as A1111 does
before the prompt reaches the text encoder.
"""

from __future__ import annotations

import re

from studio.core.request import LoraRef

BREAK = "BREAK"
BREAK_WEIGHT = -1.0
ROUND_MULTIPLIER = 1.1
SQUARE_MULTIPLIER = 1 / 1.1

_RE_ATTENTION = re.compile(
    r"""
\\\(|
\\\)|
\\\[|
\\]|
\\\\|
\\|
\(|
\[|
:\s*([+-]?[.\d]+)\s*\)|
\)|
]|
[^\\()\[\]:]+|
:
""",
    re.X,
)
_RE_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)

# A1111's `re_extra_net`: `<kind:args>`; only the LoRA kinds are taken out here.
_RE_EXTRA_NET = re.compile(r"<(\w+):([^>]+)>")
_LORA_KINDS = frozenset({"lora", "lyco"})


def parse_attention(text: str) -> list[tuple[str, float]]:
    """The prompt as (text, weight) chunks, exactly as A1111's `parse_prompt_attention` gives them.

    >>> parse_attention("an (important) word")
    [('an ', 1.0), ('important', 1.1), (' word', 1.0)]
    >>> parse_attention("a BREAK b")
    [('a', 1.0), ('BREAK', -1.0), ('b', 1.0)]
    """
    chunks: list[str] = []
    weights: list[float] = []
    round_brackets: list[int] = []
    square_brackets: list[int] = []

    def multiply_range(start: int, multiplier: float) -> None:
        for p in range(start, len(weights)):
            weights[p] *= multiplier

    def add_text(part_text: str) -> None:
        for i, part in enumerate(_RE_BREAK.split(part_text)):
            if i > 0:
                chunks.append(BREAK)
                weights.append(BREAK_WEIGHT)
            chunks.append(part)
            weights.append(1.0)

    for m in _RE_ATTENTION.finditer(text):
        token = m.group(0)
        weight_text = m.group(1)
        weight = _float_or_none(weight_text) if weight_text is not None else None
        if token.startswith("\\"):
            chunks.append(token[1:])
            weights.append(1.0)
        elif token == "(":
            round_brackets.append(len(chunks))
        elif token == "[":
            square_brackets.append(len(chunks))
        elif weight is not None and round_brackets:
            multiply_range(round_brackets.pop(), weight)
        elif token == ")" and round_brackets:
            multiply_range(round_brackets.pop(), ROUND_MULTIPLIER)
        elif token == "]" and square_brackets:
            multiply_range(square_brackets.pop(), SQUARE_MULTIPLIER)
        else:
            add_text(token)

    for pos in round_brackets:
        multiply_range(pos, ROUND_MULTIPLIER)
    for pos in square_brackets:
        multiply_range(pos, SQUARE_MULTIPLIER)

    if not chunks:
        return [("", 1.0)]

    merged: list[tuple[str, float]] = [(chunks[0], weights[0])]
    for chunk, weight in zip(chunks[1:], weights[1:], strict=True):
        last_text, last_weight = merged[-1]
        if last_weight == weight:
            merged[-1] = (last_text + chunk, last_weight)
        else:
            merged.append((chunk, weight))
    return merged


def is_break(chunk: tuple[str, float]) -> bool:
    """True for the separator chunk, tested as A1111's encoder does (``text == "BREAK" and weight == -1``)."""
    return chunk[0] == BREAK and chunk[1] == BREAK_WEIGHT


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def extract_loras(text: str) -> tuple[str, tuple[LoraRef, ...]]:
    """The prompt without its `<lora:name:w>` / `<lyco:name:w>` tags, and those LoRAs in order.

    `<lora:name>` has weight 1; of A1111's `<lora:name:te:unet>` the first weight (the text encoder's)
    is taken, as is a named `te=w`. A tag whose weight is not a number stays in the text untouched
    (A1111 would fail the job), so nothing the artist wrote disappears unread. Other extra networks
    (`<hypernet:...>`) are left in the text. Whitespace around a removed tag is kept, as A1111 does.

    >>> extract_loras("a cat <lora:ink:0.6>, <lyco:paper>")
    ('a cat , ', (LoraRef(name='ink', weight=0.6), LoraRef(name='paper', weight=1.0)))
    """
    refs: list[LoraRef] = []

    def found(m: re.Match[str]) -> str:
        if m.group(1).lower() not in _LORA_KINDS:
            return m.group(0)
        ref = _lora_ref(m.group(2))
        if ref is None:
            return m.group(0)
        refs.append(ref)
        return ""

    cleaned = _RE_EXTRA_NET.sub(found, text)
    return cleaned, tuple(refs)


def _lora_ref(args: str) -> LoraRef | None:
    items = args.split(":")
    name = items[0].strip()
    if not name:
        return None
    positional = [item for item in items[1:] if "=" not in item]
    named = dict(item.split("=", 1) for item in items[1:] if "=" in item)
    weight_text = positional[0] if positional else named.get("te", "1")
    try:
        weight = float(weight_text.strip())
    except ValueError:
        return None
    return LoraRef(name=name, weight=weight)

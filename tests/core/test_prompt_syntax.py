"""A1111's prompt syntax: the (text, weight) chunks A1111's `parse_prompt_attention` gives, and LoRA tags."""

from __future__ import annotations

import pytest

from studio.core.prompt_syntax import extract_loras, is_break, parse_attention
from studio.core.request import LoraRef

# The doctest table of A1111's modules/prompt_parser.py::parse_prompt_attention, then cases built from
# its grammar (escapes, unbalanced brackets, BREAK, spaces around a weight).
A1111_TABLE: list[tuple[str, list[tuple[str, float]]]] = [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    (
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        [
            ("a ", 1.0),
            ("house", 1.5730000000000004),
            (" ", 1.1),
            ("on", 1.0),
            (" a ", 1.1),
            ("hill", 0.55),
            (", sun, ", 1.1),
            ("sky", 1.4641000000000006),
            (".", 1.1),
        ],
    ),
    ("", [("", 1.0)]),
    ("[faded]", [("faded", 1 / 1.1)]),
    ("[[faded]]", [("faded", (1 / 1.1) * (1 / 1.1))]),
    ("(red apple:1.3)", [("red apple", 1.3)]),
    ("(red apple: 1.3 )", [("red apple", 1.3)]),
    ("(a:0.5) (b:-1)", [("a", 0.5), (" ", 1.0), ("b", -1.0)]),
    ("((a):1.5)", [("a", 1.1 * 1.5)]),
    ("[unbalanced", [("unbalanced", 1 / 1.1)]),
    ("close) only]", [("close) only]", 1.0)]),
    ("a:1.3) no opener", [("a:1.3) no opener", 1.0)]),
    ("time: 10:30", [("time: 10:30", 1.0)]),
    ("\\\\ back\\slash", [("\\ backslash", 1.0)]),
    ("a BREAK b", [("a", 1.0), ("BREAK", -1.0), ("b", 1.0)]),
    # Inside brackets the marker is multiplied too; A1111 then reads it as the word "BREAK" (weight != -1).
    ("(a BREAK b)", [("a", 1.1), ("BREAK", -1.1), ("b", 1.1)]),
    ("a BREAK BREAK b", [("a", 1.0), ("BREAK", -1.0), ("", 1.0), ("BREAK", -1.0), ("b", 1.0)]),
    ("BREAK b", [("", 1.0), ("BREAK", -1.0), ("b", 1.0)]),
    ("aBREAKb break Break", [("aBREAKb break Break", 1.0)]),
    ("(a:.)", [("a:.)", 1.1)]),
]


@pytest.mark.parametrize(("text", "expected"), A1111_TABLE, ids=[t or "<empty>" for t, _ in A1111_TABLE])
def test_parse_attention_matches_a1111(text: str, expected: list[tuple[str, float]]) -> None:
    got = parse_attention(text)
    assert [chunk for chunk, _ in got] == [chunk for chunk, _ in expected]
    assert [w for _, w in got] == pytest.approx([w for _, w in expected], rel=1e-12)


def test_a1111_doctest_weights_are_bit_exact() -> None:
    # Same order of multiplication as A1111, so the same floats (not just close ones).
    got = parse_attention("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).")
    assert got[1] == ("house", 1.5730000000000004)
    assert got[3] == ("on", 1.0)
    assert got[7] == ("sky", 1.4641000000000006)


def test_parse_attention_returns_tuples_of_str_and_float() -> None:
    for chunk, weight in parse_attention("(a) [b] c BREAK d"):
        assert isinstance(chunk, str)
        assert isinstance(weight, float)


@pytest.mark.parametrize(
    ("text", "cleaned", "refs"),
    [
        ("a cat", "a cat", ()),
        ("a cat <lora:ink:0.6>", "a cat ", (LoraRef("ink", 0.6),)),
        ("<lora:ink>a cat", "a cat", (LoraRef("ink", 1.0),)),
        ("<lyco:paper:0.3>, <lora:ink:-0.5>", ", ", (LoraRef("paper", 0.3), LoraRef("ink", -0.5))),
        ("<lora:ink:0.6:0.2>", "", (LoraRef("ink", 0.6),)),
        ("<lora:ink:te=0.4:unet=0.9>", "", (LoraRef("ink", 0.4),)),
        ("<LORA:Ink_v2-1.0:1>", "", (LoraRef("Ink_v2-1.0", 1.0),)),
        ("<lora:my style:0.7>", "", (LoraRef("my style", 0.7),)),
        ("<lora:ink:strong>", "<lora:ink:strong>", ()),
        ("<hypernet:ink:1>", "<hypernet:ink:1>", ()),
        ("(<lora:ink:0.6>:1.2) x", "(:1.2) x", (LoraRef("ink", 0.6),)),
    ],
)
def test_extract_loras(text: str, cleaned: str, refs: tuple[LoraRef, ...]) -> None:
    assert extract_loras(text) == (cleaned, refs)


def test_same_lora_twice_is_kept_twice_in_order() -> None:
    _, refs = extract_loras("<lora:a:0.5> <lora:b> <lora:a:0.2>")
    assert refs == (LoraRef("a", 0.5), LoraRef("b", 1.0), LoraRef("a", 0.2))


def test_is_break_only_for_the_unweighted_marker() -> None:
    assert [is_break(c) for c in parse_attention("a BREAK b")] == [False, True, False]
    assert not any(is_break(c) for c in parse_attention("(a BREAK b)"))

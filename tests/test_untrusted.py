"""What ``bot.untrusted`` accepts, refuses (and why) and mends."""

from __future__ import annotations

import pytest

from bot.untrusted import MAX_DEPTH, REPLACEMENT, Untrusted, check_text, parse_json, storable


@pytest.mark.parametrize(
    "raw",
    [
        '{"text": "tab\\there, new\\nline, return\\r, é, 😀, \\ud83d\\ude00"}',
        "[" * MAX_DEPTH + "]" * MAX_DEPTH,
        '{"a": [1, 2.5, true, null, {"b": "c"}]}',
        b'{"text": "\xc3\xa9"}',
    ],
)
def test_ordinary_json_is_accepted(raw: str | bytes) -> None:
    parse_json(raw)


@pytest.mark.parametrize(
    ("raw", "reason", "unprocessable"),
    [
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "the body nests more than 32", False),
        ("[" * 50_000, "the body nests more than 32", False),
        ('{"a": ' * 40 + "1" + "}" * 40, "the body nests more than 32", False),
        ("{", "the body must be JSON", False),
        ('{"n": NaN}', "the body must be JSON", False),
        ('{"n": ' + "9" * 5000 + "}", "the body must be JSON", False),
        (b"\xff\xfe", "the body must be UTF-8", False),
        ('{"text": "a\\u0000b"}', "'text' contains a NUL character (U+0000)", True),
        ('{"text": "\\udc00"}', "'text' contains a lone surrogate (U+DC00)", True),
        (
            '{"areas": ["0161", "\\u0085"]}',
            "'areas[1]' contains a control character (U+0085)",
            True,
        ),
        ('{"a": {"b": "\\u007f"}}', "'a.b' contains a control character (U+007F)", True),
        ('"\\u0000"', "the body contains a NUL", True),
        ('{"\\u0000": 1}', "a key in the body contains a NUL", True),
    ],
)
def test_refusals_say_why(raw: str | bytes, reason: str, unprocessable: bool) -> None:
    with pytest.raises(Untrusted) as refused:
        parse_json(raw)
    assert str(refused.value).startswith(reason)
    assert refused.value.unprocessable is unprocessable


def test_a_long_field_name_is_not_repeated_whole() -> None:
    with pytest.raises(Untrusted) as refused:
        check_text("\x00", "x" * 1000)
    assert len(str(refused.value)) < 150


def test_storable_mends_what_postgresql_or_utf_8_cannot_take_and_keeps_the_rest() -> None:
    text = "no\x00 dial tone \ud83d in 0161\tnow 😀 \x07"
    assert storable(text) == f"no{REPLACEMENT} dial tone {REPLACEMENT} in 0161\tnow 😀 \x07"
    storable(text).encode("utf-8")  # no lone surrogate is left

"""Splitting replies to Telegram's 4096-character limit."""

from __future__ import annotations

import pytest

from bot.channels.telegram.text import MESSAGE_LIMIT, split_text, utf16_length


def test_short_text_is_one_message() -> None:
    assert split_text("  Sorry, there is a fault in 0161.  ") == [
        "Sorry, there is a fault in 0161."
    ]


def test_whitespace_only_is_no_message() -> None:
    assert split_text(" \n\n ") == []


def test_exactly_the_limit_is_one_message() -> None:
    text = "a" * MESSAGE_LIMIT
    assert split_text(text) == [text]


def test_paragraph_boundary_is_preferred() -> None:
    text = "First paragraph. It has two sentences.\n\nSecond paragraph."
    assert split_text(text, limit=50) == [
        "First paragraph. It has two sentences.",
        "Second paragraph.",
    ]


def test_sentence_boundary_when_no_paragraph_fits() -> None:
    text = "One sentence here. Another sentence here. A third one."
    assert split_text(text, limit=45) == [
        "One sentence here. Another sentence here.",
        "A third one.",
    ]


def test_word_boundary_when_a_sentence_is_too_long() -> None:
    text = "word " * 30
    parts = split_text(text, limit=23)
    assert all(len(part) <= 23 for part in parts)
    assert " ".join(parts).split() == text.split()


def test_unbroken_text_is_cut_hard() -> None:
    assert split_text("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_limit_counts_utf16_units_like_telegram() -> None:
    text = "🙂" * 3000  # 6000 UTF-16 code units
    parts = split_text(text)
    assert [utf16_length(part) for part in parts] == [4096, 1904]
    assert "".join(parts) == text


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        split_text("text", limit=limit)

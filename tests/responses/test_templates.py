from __future__ import annotations

import pytest

from bot.responses.templates import (
    PLACEHOLDERS,
    WORST_CASE,
    X_PUBLIC_LIMIT,
    clip,
    parse,
    render,
    validate,
)

ALL = set(PLACEHOLDERS)


def test_render_substitutes_named_placeholders() -> None:
    text = "Sorry, {place} ({area_code}) has a fault. Fixed {eta}."
    values = {"place": "Leeds", "area_code": "0113", "eta": "by about 17:45 today"}
    assert render(text, values) == "Sorry, Leeds (0113) has a fault. Fixed by about 17:45 today."


def test_double_braces_are_literal_braces() -> None:
    assert render("{{place}} is {place}", {"place": "Leeds"}) == "{place} is Leeds"
    assert validate("{{not a placeholder}}", ALL) == []


def test_missing_value_renders_empty_not_an_error() -> None:
    assert render("Ref {reference}.", {}) == "Ref ."


def test_values_are_never_interpreted() -> None:
    assert render("{place}", {"place": "{eta} {{x}}"}) == "{eta} {{x}}"


@pytest.mark.parametrize(
    "text",
    [
        "{eta.__class__}",
        "{place[0]}",
        "{eta!r}",
        "{eta:>100}",
        "{0}",
        "{}",
        "{ place }",
        "{Place}",
    ],
)
def test_attribute_index_conversion_and_format_specs_are_rejected(text: str) -> None:
    problems = validate(text, ALL)
    assert problems and "not a placeholder" in problems[0]
    assert render(text, {"eta": "x", "place": "y"}) == text


def test_unknown_placeholder_is_a_validation_error() -> None:
    problems = validate("Hello {nmae}", {"name"})
    assert problems == ["unknown placeholder {nmae} (this response may use: {name})"]


def test_placeholder_outside_the_allowed_set_is_rejected() -> None:
    assert validate("Fixed {eta}", {"place"}) != []
    assert validate("Fixed {eta}", {"eta"}) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("Hello {place", "unclosed '{'"), ("Hello place}", "unmatched '}'"), ("a { b", "unclosed")],
)
def test_unbalanced_braces_are_reported(text: str, fragment: str) -> None:
    problems = validate(text, ALL)
    assert any(fragment in p for p in problems)


def test_empty_text_is_rejected() -> None:
    assert validate("   ", ALL) == ["the text is empty"]


def test_public_variant_is_checked_with_worst_case_values() -> None:
    filler = "x" * (X_PUBLIC_LIMIT - len(WORST_CASE["place"]))
    assert validate(filler + "{place}", ALL, max_length=X_PUBLIC_LIMIT) == []
    problems = validate(filler + "!{place}", ALL, max_length=X_PUBLIC_LIMIT)
    assert len(problems) == 1 and "too long" in problems[0]


def test_parse_lists_placeholders() -> None:
    assert parse("{a_b} and {eta} {{x}}").placeholders == {"a_b", "eta"}


def test_clip_cuts_at_a_word_with_an_ellipsis() -> None:
    assert clip("short", 10) == "short"
    clipped = clip("the quick brown fox jumps over the lazy dog", 20)
    assert clipped == "the quick brown fox…" and len(clipped) <= 20

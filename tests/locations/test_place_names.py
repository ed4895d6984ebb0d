"""Town names in text: keys, edit distance, ordinary-word names, typo search."""

from __future__ import annotations

import pytest

from bot.locations.place_names import PlaceNames, edit_distance, name_key, name_variants


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Stoke-on-Trent", "stoke on trent"),
        ("Newcastle upon Tyne", "newcastle on tyne"),
        ("St. Albans", "st albans"),
        ("saint albans", "st albans"),
        ("King's Lynn", "kings lynn"),
        ("King’s Lynn", "kings lynn"),
        ("  MANCHESTER!! ", "manchester"),
    ],
)
def test_name_key_makes_spellings_meet(text: str, key: str) -> None:
    assert name_key(text) == key


def test_name_variants_keep_bracketed_towns_but_not_counties() -> None:
    assert name_variants("Newquay (Padstow)") == ["newquay padstow", "newquay", "padstow"]
    assert name_variants("Ashford (Kent)") == ["ashford kent", "ashford"]
    assert "fife" not in name_variants("Peat Inn (Leven, Fife)")
    assert "leven" in name_variants("Peat Inn (Leven, Fife)")


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("leeds", "leeds", 0),
        ("machester", "manchester", 1),
        ("edinbrugh", "edinburgh", 1),
        ("glasgo", "glasgow", 1),
        ("birmignham", "birmingham", 1),
        ("petrborogh", "peterborough", 2),
        ("london", "paris", 3),
    ],
)
def test_edit_distance_counts_transpositions_once(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b, 2) == min(distance, 3)


def _names() -> PlaceNames[str]:
    return PlaceNames(
        {
            "leeds": "0113",
            "manchester": "0161",
            "reading": "0118",
            "milton keynes": "01908",
            "newcastle on tyne": "0191",
            "newcastle": "0191",
            "malton": "01653",
            "walton": "01932",
            "woking": "01483",
            "london": "020",
        },
        place_words=["reading"],
        common_words=["leads", "working", "london"],
        blocked=["stratford"],
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm in Leeds", "0113"),
        ("Newcastle upon Tyne", "0191"),
        ("Reading", "0118"),
        ("in Reading", "0118"),
        ("reading the news", None),
        ("down in reading", None),
        ("machester", "0161"),
        ("milton keyns", "01908"),
        ("leads", None),
        ("stratford", None),
        ("alton", None),  # one edit from Malton and from Walton: no guess
        ("broadband not wrking", None),  # one edit from Woking, but also from "working"
        ("no broadband in wokingg", "01483"),
        ("londn", "020"),  # a listed word that is itself a place is still corrected to it
        ("", None),
    ],
)
def test_find(text: str, expected: str | None) -> None:
    found = _names().find(text)
    assert (found[1] if found else None) == expected


def test_the_longest_phrase_wins() -> None:
    assert _names().find("newcastle upon tyne") == ("newcastle on tyne", "0191")

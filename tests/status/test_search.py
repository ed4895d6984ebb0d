"""Searching the status page: what people type, read by the bot's own locator."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.status.board import Snapshot, StatusBoard
from bot.status.search import MAX_QUERY, Outcome, search


@pytest.fixture
async def snapshot(engine: AsyncEngine, book: Incidents, locator: Locator) -> Snapshot:
    await book.create(title="Leeds cable", areas=["0113"], services=["broadband"])
    await book.create(title="Dumfries exchange", areas=["01387"], services=["phone"])
    fixed = await book.create(title="Manchester card", areas=["0161"], services=["phone"])
    await book.resolve(fixed.incident.reference)
    return await StatusBoard(engine, book, locator).current()


@pytest.mark.parametrize(
    "text",
    ["0113", "(0113)", "0113 496 0000", "+44 113 496 0000", "Leeds", "in leeds", "LS1 4AP", "LS6"],
)
async def test_a_code_number_town_or_postcode_in_the_area_finds_its_problem(
    snapshot: Snapshot, locator: Locator, text: str
) -> None:
    answer = search(snapshot, locator, text)

    assert answer.outcome is Outcome.PROBLEM
    assert answer.area_code == "0113"
    assert [i.incident.title for i in answer.active] == ["Leeds cable"]


async def test_an_area_without_an_open_problem_says_so_and_what_was_fixed(
    snapshot: Snapshot, locator: Locator
) -> None:
    answer = search(snapshot, locator, "Manchester")

    assert (answer.outcome, answer.area_code, answer.place) == (
        Outcome.NO_PROBLEM,
        "0161",
        "Manchester",
    )
    assert answer.active == ()
    assert [i.incident.title for i in answer.fixed] == ["Manchester card"]


async def test_a_problem_in_the_wider_code_reaches_a_six_digit_code_inside_it(
    snapshot: Snapshot, locator: Locator
) -> None:
    answer = search(snapshot, locator, "013873")

    assert (answer.outcome, answer.area_code) == (Outcome.PROBLEM, "013873")
    assert [i.incident.title for i in answer.active] == ["Dumfries exchange"]


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("07700 900123", Outcome.MOBILE),
        ("+44 7700 900123", Outcome.MOBILE),
        ("atlantis", Outcome.UNKNOWN),
        ("<script>alert(1)</script>", Outcome.UNKNOWN),
        ("0113" * (MAX_QUERY // 4 + 1), Outcome.TOO_LONG),
    ],
)
async def test_what_names_no_area_gets_an_outcome_without_an_area(
    snapshot: Snapshot, locator: Locator, text: str, outcome: Outcome
) -> None:
    answer = search(snapshot, locator, text)

    assert (answer.outcome, answer.area_code, answer.active) == (outcome, "", ())

"""Agent macros, filled in for the open conversation's customer and numbered for Alt+N."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.handoff.customer import customer
from bot.handoff.macros import fill, title, values_for
from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.messages import Variant
from bot.models import utcnow
from bot.responses.store import ResponseStore
from bot.settings import Settings
from tests.handoff.conftest import add_incident, waiting

LONDON = ZoneInfo("Europe/London")
SHIPPED = ["macro_apology_eta", "macro_check_router", "macro_compensation_policy"]


async def store(engine: AsyncEngine) -> ResponseStore:
    return await ResponseStore.open(engine, Settings().data_dir)


def test_a_macro_is_named_by_its_key() -> None:
    assert title("macro_apology_eta") == "apology eta"


async def test_macros_are_filled_in_for_the_customer_in_key_order_with_their_keys(
    engine: AsyncEngine, incidents: Incidents, locator: Locator
) -> None:
    responses = await store(engine)
    manchester = await add_incident(incidents, ["0161"])
    conversation = await waiting(engine, "a", area_code="0161", incident=manchester, name="Ann")
    found = await customer(engine, conversation, await incidents.index.active(), locator.place_for)

    macros = fill(responses, Variant.WEB, values_for("Ann", found, utcnow(), LONDON))

    assert [m.key for m in macros][:3] == SHIPPED
    assert [m.shortcut for m in macros] == ["Alt+1", "Alt+2", "Alt+3", "Alt+4"]
    apology = macros[0]
    assert apology.text.startswith("Hello Ann, I'm sorry you've been waiting.")
    assert "broadband in Manchester (0161), caused by a cut cable" in apology.text
    assert manchester.incident.reference in apology.text
    assert "/status/area/0161" in apology.text
    assert "expect it fixed by about" in apology.text
    assert apology.missing == ()
    assert apology.to_public()["shortcut"] == "Alt+1"


async def test_what_nobody_knows_shows_as_a_gap_for_the_agent_to_fill(
    engine: AsyncEngine, incidents: Incidents, locator: Locator
) -> None:
    responses = await store(engine)
    conversation = await waiting(engine, "a", area_code="0113", name="Ann")  # no incident
    found = await customer(engine, conversation, await incidents.index.active(), locator.place_for)

    (apology,) = [
        m
        for m in fill(responses, Variant.WEB, values_for("Ann", found, utcnow(), LONDON))
        if m.key == "macro_apology_eta"
    ]

    assert apology.missing == ("cause", "eta", "reference", "services")
    assert "fault affecting [services] in Leeds (0113), caused by [cause]" in apology.text
    assert "expect it fixed [eta]" in apology.text


async def test_comms_edits_additions_and_deletions_reach_the_agents_numbering(
    engine: AsyncEngine,
) -> None:
    responses = await store(engine)
    await responses.create("macro_a_first", "Hi {name}, first things first.", "comms")
    await responses.delete("macro_check_router", "comms")
    await responses.save("macro_a_first", "telegram", "Hi {name} (Telegram)", "comms")
    for number in range(8):
        await responses.create(f"macro_z{number}", "More.", "comms")

    macros = fill(responses, Variant.TELEGRAM, {"name": "Ann"})

    assert macros[0].key == "macro_a_first" and macros[0].text == "Hi Ann (Telegram)"
    assert "macro_check_router" not in [m.key for m in macros]
    assert [m.shortcut for m in macros[8:]] == ["Alt+9", None, None, None]  # nine keys only
    assert fill(responses, Variant.WEB, {})[0].text == "Hi [name], first things first."

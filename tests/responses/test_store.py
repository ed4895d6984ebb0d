from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messages import Variant
from bot.responses.catalogue import DEFAULTS_FILE, ResponseError, ensure_defaults, load_catalogue
from bot.responses.store import ResponseExists, ResponseStore, UnknownResponse
from bot.responses.templates import X_PUBLIC_LIMIT
from bot.settings import Settings

DATA = Settings().data_dir
CONTRACT_KEYS = [
    "utter_greet",
    "utter_goodbye",
    "utter_thanks",
    "utter_ask_area_code",
    "utter_ask_town",
    "utter_location_not_found",
    "utter_outage",
    "utter_outage_no_eta",
    "utter_eta",
    "utter_resolved",
    "utter_no_outage",
    "utter_offer_notify",
    "utter_subscribed",
    "utter_nothing_to_notify",
    "utter_notify_fixed",
    "utter_handoff",
    "utter_handoff_vulnerable",
    "utter_rephrase",
    "utter_bot_challenge",
    "utter_out_of_scope",
    "utter_other_language",
    "utter_calm",
    "utter_deny_ok",
    "utter_holding",
    "utter_help",
    "utter_dm_invite",
    "utter_please_type",
    "utter_followup_incident",
    "utter_followup_incident_no_eta",
    "utter_notify_eta_later",
    "utter_queue_position",
    "utter_queue_still_waiting",
    "utter_slow_down",
]


SHIPPED_MACROS = [
    "macro_apology_eta",
    "macro_check_router",
    "macro_compensation_policy",
    "macro_no_known_fault",
]


def test_defaults_cover_every_response_in_the_brain_contract_and_ship_macros() -> None:
    catalogue = load_catalogue(DATA / DEFAULTS_FILE)
    assert sorted(catalogue) == sorted(CONTRACT_KEYS + SHIPPED_MACROS)


async def store(engine: AsyncEngine, **kwargs: float) -> ResponseStore:
    return await ResponseStore.open(engine, DATA, **kwargs)


async def test_open_loads_defaults_and_renders_per_channel(engine: AsyncEngine) -> None:
    responses = await store(engine)
    values = {"place": "Leeds", "area_code": "0113", "eta": "by 17:45 today"}
    text = responses.render("utter_eta", Variant.TELEGRAM, {**values, "reference": "INC-1"})
    assert text.startswith("We expect the fault in Leeds (0113) to be fixed by 17:45 today.")
    public = responses.render("utter_eta", Variant.X_PUBLIC, {**values, "reference": "INC-1"})
    assert public.endswith("Ref INC-1. Updates: /status/area/0113")
    assert len(public) <= X_PUBLIC_LIMIT
    assert responses.text_for("utter_deny_ok", "x_dm") == "No problem."
    with pytest.raises(UnknownResponse):
        responses.text_for("utter_nope")


async def test_status_url_links_the_areas_status_page_in_every_response_and_channel(
    engine: AsyncEngine,
) -> None:
    responses = await ResponseStore.open(engine, DATA, public_url="https://status.example.com")
    values = {"place": "Leeds", "area_code": "0113", "eta": "by 17:45 today", "reference": "R"}

    for variant in Variant:
        outage = responses.render("utter_outage", variant, values)
        assert outage.endswith(" https://status.example.com/status/area/0113"), variant
    holding = responses.render("utter_holding", Variant.TELEGRAM)
    assert holding.endswith(" https://status.example.com/status")
    assert all("status_url" in entry["placeholders"] for entry in responses.list())
    saved = await responses.save("utter_deny_ok", "x_public", "OK. {status_url}", author="carol")
    assert "status_url" in saved["placeholders"]
    assert responses.render("utter_deny_ok", Variant.X_PUBLIC, {"area_code": "020"}) == (
        "OK. https://status.example.com/status/area/020"
    )


async def test_save_keeps_every_version_and_takes_effect_at_once(engine: AsyncEngine) -> None:
    responses = await store(engine)
    described = await responses.save(
        "utter_no_outage", "telegram", "Ask me about {place}.", "dave"
    )
    assert described["variants"]["telegram"] == "Ask me about {place}."
    assert described["versions"]["telegram"] == 1
    await responses.save("utter_no_outage", "telegram", "Ask me anything, {place}.", "erin")
    assert responses.render("utter_no_outage", "telegram", {"place": "Leeds"}) == (
        "Ask me anything, Leeds."
    )
    assert responses.text_for("utter_no_outage", "web") == responses.text_for("utter_no_outage")
    history = await responses.history("utter_no_outage")
    assert [(h["channel"], h["version"], h["author"]) for h in history[:2]] == [
        ("telegram", 2, "erin"),
        ("telegram", 1, "dave"),
    ]
    assert history[-1]["author"] == "system"
    default = await responses.save("utter_no_outage", "default", "Help text.", "erin")
    assert default["versions"]["default"] == 2


@pytest.mark.parametrize(
    ("key", "channel", "text", "message"),
    [
        ("utter_help", "default", "Hi {plcae}", "unknown placeholder {plcae}"),
        ("utter_greet", "x_public", "Hi {name}", "unknown placeholder {name}"),
        ("utter_help", "default", "Hi {place.__class__}", "not a placeholder"),
        ("utter_help", "default", "Hi {", "unclosed"),
        ("utter_help", "fax", "Hi", "channel must be one of"),
        ("utter_outage", "x_public", "x" * 250 + "{place}{eta}", "too long"),
        ("utter_help", "default", "", "empty"),
    ],
)
async def test_save_rejects_bad_texts_with_a_reason(
    engine: AsyncEngine, key: str, channel: str, text: str, message: str
) -> None:
    responses = await store(engine)
    before = responses.text_for(key, channel) if channel != "fax" else ""
    with pytest.raises(ResponseError, match=message.replace("{", r"\{").replace("}", r"\}")):
        await responses.save(key, channel, text, "mallory")
    if before:
        assert responses.text_for(key, channel) == before
    assert len(await responses.history(key)) == len(
        [
            c
            for c in ("default", "telegram", "x_public", "x_dm", "web")
            if c in load_catalogue(DATA / DEFAULTS_FILE)[key].texts
        ]
    )


async def test_save_of_an_unknown_key(engine: AsyncEngine) -> None:
    responses = await store(engine)
    with pytest.raises(UnknownResponse):
        await responses.save("utter_nope", "default", "Hi", "x")


async def test_a_removed_channel_text_falls_back_to_the_default_and_stays_removed(
    engine: AsyncEngine,
) -> None:
    responses = await store(engine)
    shipped = responses.text_for("utter_greet", Variant.X_PUBLIC)
    assert shipped != responses.text_for("utter_greet")  # the shipped file has its own

    described = await responses.use_default("utter_greet", "x_public", "grace")

    assert described["variants"]["x_public"] == responses.text_for("utter_greet")
    assert "x_public" not in described["overrides"]
    assert responses.render("utter_greet", Variant.X_PUBLIC) == responses.render("utter_greet")
    latest = (await responses.history("utter_greet"))[0]
    assert (latest["channel"], latest["version"], latest["text"]) == ("x_public", 2, "")
    assert latest["author"] == "grace"
    # The next start does not bring it back, while a text new in the shipped file loads.
    catalogue = load_catalogue(DATA / DEFAULTS_FILE)
    thanks = catalogue["utter_thanks"]
    catalogue["utter_thanks"] = replace(thanks, texts={**thanks.texts, "web": "Any time."})
    assert await ensure_defaults(engine, catalogue) == 1
    restarted = await store(engine)
    assert restarted.text_for("utter_greet", Variant.X_PUBLIC) == restarted.text_for("utter_greet")
    assert restarted.text_for("utter_thanks", Variant.WEB) == "Any time."
    again = await restarted.save("utter_greet", "x_public", shipped, "grace")
    assert (again["variants"]["x_public"], again["versions"]["x_public"]) == (shipped, 3)


async def test_removing_a_channel_text_it_does_not_have_changes_nothing(
    engine: AsyncEngine,
) -> None:
    responses = await store(engine)
    before = await responses.history("utter_thanks")

    described = await responses.use_default("utter_thanks", "web", "grace")

    assert "web" not in described["overrides"]
    assert await responses.history("utter_thanks") == before


@pytest.mark.parametrize(
    ("key", "channel", "error"),
    [
        ("utter_greet", "default", ResponseError),
        ("utter_greet", "fax", ResponseError),
        ("utter_nope", "telegram", UnknownResponse),
    ],
)
async def test_what_cannot_be_removed(
    engine: AsyncEngine, key: str, channel: str, error: type[Exception]
) -> None:
    responses = await store(engine)
    with pytest.raises(error):
        await responses.use_default(key, channel, "grace")
    assert responses.text_for("utter_greet") == (await store(engine)).text_for("utter_greet")


async def test_comms_staff_add_macros_and_delete_them_for_good(engine: AsyncEngine) -> None:
    responses = await store(engine)
    created = await responses.create("macro_engineer_booked", "Booked, {name}.", "carol")
    assert (created["key"], created["variants"]["telegram"]) == (
        "macro_engineer_booked",
        "Booked, {name}.",
    )
    assert "eta" in created["placeholders"] and "resolved_at" not in created["placeholders"]
    with pytest.raises(ResponseExists):
        await responses.create("macro_engineer_booked", "Again.", "carol")

    await responses.delete("macro_engineer_booked", "carol")
    await responses.delete("macro_check_router", "carol")  # a shipped one

    assert {"macro_engineer_booked", "macro_check_router"}.isdisjoint(responses.keys())
    with pytest.raises(UnknownResponse):
        responses.text_for("macro_check_router")
    with pytest.raises(UnknownResponse):
        await responses.save("macro_check_router", "default", "Back?", "carol")
    assert await ensure_defaults(engine) == 0  # its history says it was deleted
    assert "macro_check_router" not in (await store(engine)).macros()
    history = await (await store(engine)).history("macro_apology_eta")
    assert history and all(h["author"] == "system" for h in history)
    # A new macro of an old name starts again, its history continuing.
    await responses.create("macro_engineer_booked", "Booked again.", "dave")
    versions = [
        (h["version"], h["text"]) for h in await responses.history("macro_engineer_booked")
    ]
    assert versions == [(3, "Booked again."), (2, ""), (1, "Booked, {name}.")]


async def test_what_macros_cannot_be(engine: AsyncEngine) -> None:
    responses = await store(engine)
    for key in ["utter_new", "macro_", "macro_Big", "macro_two__underscores", "macro_" + "x" * 60]:
        with pytest.raises(ResponseError, match="must be a macro"):
            await responses.create(key, "Hello.", "carol")
    with pytest.raises(ResponseError, match="unknown placeholder"):
        await responses.create("macro_when_fixed", "Fixed {resolved_at}.", "carol")
    with pytest.raises(ResponseError, match="one of the bot's own responses"):
        await responses.delete("utter_greet", "carol")
    with pytest.raises(UnknownResponse):
        await responses.delete("macro_nope", "carol")
    with pytest.raises(ResponseError, match="channel must be one of default, telegram, x_dm"):
        await responses.save("macro_apology_eta", "x_public", "Sorry.", "carol")
    assert not responses.exists("utter_new")


async def test_other_workers_see_edits_within_a_second(engine: AsyncEngine) -> None:
    editor = await store(engine)
    worker = await store(engine, check_seconds=0.1)
    assert await worker.reload_if_changed() is False
    await editor.save("utter_thanks", "default", "Cheers!", "frank")
    await asyncio.sleep(0.15)
    assert await worker.reload_if_changed() is True
    assert worker.render("utter_thanks", Variant.WEB) == "Cheers!"


async def test_list_has_the_api_shape(engine: AsyncEngine) -> None:
    responses = await store(engine)
    listed = responses.list()
    assert [r["key"] for r in listed] == sorted(CONTRACT_KEYS + SHIPPED_MACROS)
    outage = next(r for r in listed if r["key"] == "utter_outage")
    assert set(outage["variants"]) == {"default", "telegram", "x_public", "x_dm", "web"}
    assert outage["variants"]["web"] == outage["variants"]["default"]
    assert "eta" in outage["placeholders"]
    assert "x_public" in outage["overrides"]

"""``/api/responses``: comms staff read and edit canned responses, live."""

from __future__ import annotations

from bot.keys import responses_key
from bot.messages import Variant
from tests.web.conftest import Staff


async def test_list_has_every_variant_and_placeholders(staff: Staff) -> None:
    status, body = await staff.call("GET", "/api/responses", as_="agent")
    assert status == 200
    by_key = {r["key"]: r for r in body["responses"]}
    outage = by_key["utter_outage"]
    assert set(outage["variants"]) == {v.value for v in Variant}
    assert outage["variants"]["web"] == outage["variants"]["default"]  # falls back
    assert outage["variants"]["x_public"] != outage["variants"]["default"]
    assert "eta" in outage["placeholders"]
    assert "eta" in body["placeholders"]  # what each placeholder means, for the console


async def test_get_one_with_history(staff: Staff) -> None:
    status, body = await staff.call("GET", "/api/responses/utter_greet")
    assert status == 200
    assert body["key"] == "utter_greet"
    assert {h["channel"] for h in body["history"]} >= {"default", "telegram", "x_public"}
    assert all(h["author"] == "system" for h in body["history"])


async def test_unknown_key_is_404(staff: Staff) -> None:
    status, body = await staff.call("GET", "/api/responses/utter_nope")
    assert (status, body) == (404, {"error": "no canned response 'utter_nope'"})
    status, _ = await staff.call(
        "PUT", "/api/responses/utter_nope", json={"channel": "default", "text": "Hi"}
    )
    assert status == 404


async def test_saved_edit_is_what_the_bot_renders_at_once(staff: Staff) -> None:
    text = "Sorry {name}, we're looking into it for you."
    status, body = await staff.call(
        "PUT", "/api/responses/utter_greet", as_="comms", json={"channel": "web", "text": text}
    )
    assert status == 200, body
    assert body["variants"]["web"] == text
    assert "web" in body["overrides"]
    store = staff.app[responses_key]
    assert store.render("utter_greet", Variant.WEB, {"name": "Sam"}) == (
        "Sorry Sam, we're looking into it for you."
    )
    _, detail = await staff.call("GET", "/api/responses/utter_greet")
    assert detail["history"][0] == {**detail["history"][0], "author": "comms", "text": text}


async def test_channel_defaults_to_default(staff: Staff) -> None:
    status, body = await staff.call(
        "PUT", "/api/responses/utter_thanks", json={"text": "You're welcome!"}
    )
    assert status == 200
    assert body["variants"]["default"] == "You're welcome!"
    assert staff.app[responses_key].render("utter_thanks", Variant.WEB) == "You're welcome!"


async def test_bad_texts_are_422_with_the_reason_and_change_nothing(staff: Staff) -> None:
    before = staff.app[responses_key].text_for("utter_outage", Variant.X_PUBLIC)
    cases = [
        ({"channel": "default", "text": "Fixed {soon}"}, "unknown placeholder {soon}"),
        ({"channel": "x_public", "text": "Hi {name}"}, "unknown placeholder {name}"),
        ({"channel": "x_public", "text": "{cause} " * 10}, "too long"),
        ({"channel": "default", "text": "Broken {brace"}, ""),
        ({"channel": "default", "text": "   "}, "the text is empty"),
        ({"channel": "fax", "text": "Hello"}, "channel must be one of"),
        ({"channel": "default"}, "'text' must be a string"),
        ({"channel": 3, "text": "Hi"}, "'channel' must be a string"),
    ]
    for body, reason in cases:
        status, answer = await staff.call("PUT", "/api/responses/utter_outage", json=body)
        assert status == 422, body
        assert reason in answer["error"], (body, answer)
    assert staff.app[responses_key].text_for("utter_outage", Variant.X_PUBLIC) == before


async def test_a_channel_text_removed_is_the_default_for_that_channel_at_once(
    staff: Staff,
) -> None:
    store = staff.app[responses_key]
    default = store.text_for("utter_greet")

    denied, _ = await staff.call("DELETE", "/api/responses/utter_greet/telegram", as_="agent")
    status, body = await staff.call("DELETE", "/api/responses/utter_greet/telegram", as_="comms")

    assert denied == 403
    assert status == 200, body
    assert body["variants"]["telegram"] == default
    assert "telegram" not in body["overrides"]
    assert store.render("utter_greet", Variant.TELEGRAM) == store.render("utter_greet")
    _, detail = await staff.call("GET", "/api/responses/utter_greet")
    assert detail["history"][0] == {**detail["history"][0], "channel": "telegram", "text": ""}


async def test_removing_the_default_or_an_unknown_channel_or_key_is_refused(
    staff: Staff,
) -> None:
    cases = [
        ("/api/responses/utter_greet/default", 422, "cannot be removed"),
        ("/api/responses/utter_greet/fax", 422, "channel must be one of"),
        ("/api/responses/utter_nope/telegram", 404, "no canned response"),
    ]
    for path, expected, reason in cases:
        status, body = await staff.call("DELETE", path)
        assert (status, reason in body["error"]) == (expected, True), (path, body)

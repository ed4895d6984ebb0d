"""Agents in a surge over HTTP: macros, one answer to everyone waiting, the customer panel.

The API tests run the app from its own factory on both databases; the last test is the
whole service: a Telegram customer (the real python-telegram-bot against the fake Bot
API) and a web-chat customer ask Rasa about the same outage, ask for a person, and get
one agent's answer exactly once each, on their own channel.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import audit
from bot.handoff.escalation import escalate
from bot.keys import engine_key, telegram_key, wakes_key
from bot.messages import Channel
from bot.models import Escalation, Message
from bot.settings import Secret
from tests.conftest import add_outage, app_settings, running_app
from tests.fakes.telegram_api import FakeTelegram
from tests.handoff.test_queue import escalated
from tests.scratch import eventually
from tests.web.conftest import SignIn, Staff, add_staff

ANSWER = "Engineers are at the exchange now; we expect service back by 18:00."


async def about(engine: AsyncEngine, conversation_id: int, area_code: str) -> None:
    """The bot learnt where the waiting customer is (as its hand-off action records it)."""
    await escalate(engine, conversation_id, "request_human", area_code=area_code)


async def answer(
    staff: Staff, reference: str, body: Any, key: str | None = "key-1", as_: str | None = "agent"
) -> tuple[int, Any]:
    """``POST /api/incidents/{reference}/answer`` with an API token and an idempotency key."""
    headers = {"Authorization": f"Bearer {staff.tokens[as_]}"} if as_ else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with staff.client.post(
        f"/api/incidents/{reference}/answer", json=body, headers=headers
    ) as response:
        return response.status, await response.json()


async def outbox(engine: AsyncEngine) -> list[tuple[int, str, str]]:
    async with AsyncSession(engine) as session:
        rows = await session.exec(
            select(Message).where(Message.direction == "out").order_by(col(Message.id))
        )
        return [(m.conversation_id, m.variant, m.text) for m in rows.all()]


async def test_one_answer_reaches_everyone_waiting_about_the_incident_once(
    staff: Staff, engine: AsyncEngine
) -> None:
    reference = await add_outage(staff.app, ["0161"])
    web, _ = await escalated(engine, "web-1")
    telegram, _ = await escalated(engine, "tg-1", channel=Channel.TELEGRAM)
    leeds, _ = await escalated(engine, "web-2")
    await about(engine, web, "0161")
    await about(engine, telegram, "0161")
    await about(engine, leeds, "0113")
    wake = staff.app[wakes_key].events[Channel.TELEGRAM]
    wake.clear()

    status, body = await answer(staff, reference, {"text": ANSWER})

    assert (status, body) == (
        200,
        {"incident": reference, "sent": 2, "conversations": [web, telegram], "replayed": False},
    )
    assert wake.is_set(), "Telegram's delivery is woken at once"
    assert await outbox(engine) == [(web, "web", ANSWER), (telegram, "telegram", ANSWER)]

    wake.clear()
    status, again = await answer(staff, reference, {"text": ANSWER})  # pressed twice
    assert (status, again["sent"], again["conversations"], again["replayed"]) == (
        200,
        2,
        [web, telegram],
        True,
    )
    assert not wake.is_set()
    assert len(await outbox(engine)) == 2
    status, other = await answer(staff, reference, {"text": "Different"})
    assert status == 422 and "used for another answer" in other["error"]
    status, _ = await answer(staff, reference, {"text": ANSWER}, as_="admin")  # admin's own key
    assert status == 200 and len(await outbox(engine)) == 4

    async with staff.client.get("/api/chat/updates?sender=web-1") as response:
        assert [r["text"] for r in (await response.json())["replies"]] == [ANSWER, ANSWER]


async def test_who_may_answer_everyone_and_what_is_refused(
    staff: Staff, engine: AsyncEngine
) -> None:
    reference = await add_outage(staff.app, ["0161"])
    waiting, _ = await escalated(engine, "web-1")
    await about(engine, waiting, "0161")

    for role, status in [(None, 401), ("comms", 403)]:
        assert (await answer(staff, reference, {"text": ANSWER}, as_=role))[0] == status
    for body, key, status, reason in [
        ({"text": ANSWER}, None, 422, "Idempotency-Key header"),
        ({"text": ANSWER}, " ", 422, "Idempotency-Key header"),
        ({"text": ANSWER}, "k" * 101, 422, "idempotency key must be 1 to 100"),
        ({}, "k", 422, "'text' must be a string"),
        ({"text": "  "}, "k", 422, "must not be empty"),
        ({"text": "x" * 4001}, "k", 422, "limit is 4000"),
    ]:
        got, error = await answer(staff, reference, body, key=key)
        assert (got, reason in error["error"]) == (status, True), error
    status, error = await answer(staff, "INC-NOPE", {"text": ANSWER})
    assert (status, error) == (404, {"error": "no incident 'INC-NOPE'"})
    assert await outbox(engine) == []


async def test_a_signed_in_browser_answers_with_its_csrf_token(
    staff: Staff, engine: AsyncEngine, sign_in: SignIn
) -> None:
    reference = await add_outage(staff.app, ["0161"])
    waiting, _ = await escalated(engine, "web-1")
    await about(engine, waiting, "0161")
    browser = await sign_in(staff.base, "agent")
    path = f"/api/incidents/{reference}/answer"

    async def post(csrf: str | None) -> int:
        headers = {"Idempotency-Key": "browser-key"}
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        async with browser.http.post(
            browser.base + path, json={"text": ANSWER}, headers=headers
        ) as response:
            return response.status

    assert await post(None) == 403
    assert await outbox(engine) == []
    assert await post(browser.csrf) == 200
    assert len(await outbox(engine)) == 1
    replies = [e for e in await audit.entries(engine) if e["action"] == "reply"]
    assert [(e["actor"], e["target"]) for e in replies] == [("agent", f"conversation {waiting}")]


async def test_the_queue_groups_customers_by_incident_with_the_callers_reach(
    staff: Staff, engine: AsyncEngine
) -> None:
    reference = await add_outage(staff.app, ["0161"])
    first, first_escalation = await escalated(engine, "a")
    second, _ = await escalated(engine, "b")
    elsewhere, _ = await escalated(engine, "c")
    for conversation, code in [(first, "0161"), (second, "0161"), (elsewhere, "0113")]:
        await about(engine, conversation, code)
    await staff.call("POST", f"/api/escalations/{first_escalation}/claim", as_="agent2")

    _, mine = await staff.call("GET", "/api/escalations", as_="agent")
    _, theirs = await staff.call("GET", "/api/escalations", as_="agent2")

    by_conversation = {e["conversation_id"]: e for e in mine["escalations"]}
    assert by_conversation[first]["incidents"] == [reference]
    assert by_conversation[first]["area_code"] == "0161"
    assert (by_conversation[elsewhere]["area_code"], by_conversation[elsewhere]["incidents"]) == (
        "0113",
        [],
    )
    (group,) = mine["incidents"]
    assert {k: group[k] for k in ("reference", "title", "waiting", "answerable")} == {
        "reference": reference,
        "title": "Broadband and phone outage",
        "waiting": 2,
        "answerable": 1,  # agent2 holds the other
    }
    assert group["eta"]
    assert theirs["incidents"][0]["answerable"] == 2


async def test_the_conversation_carries_the_customer_beside_the_transcript(
    staff: Staff, engine: AsyncEngine
) -> None:
    reference = await add_outage(staff.app, ["0161"])
    conversation, _ = await escalated(engine, "a")
    await about(engine, conversation, "0161")

    status, body = await staff.call("GET", f"/api/conversations/{conversation}", as_="agent")

    assert status == 200
    found = body["customer"]
    assert (found["area_code"], found["place"]) == ("0161", "Manchester")
    assert [i["reference"] for i in found["incidents"]] == [reference]
    assert found["incidents"][0]["eta"]
    assert (found["handoffs"], found["subscriptions"]) == ([], [])


async def test_macros_are_filled_in_for_the_open_customer(
    staff: Staff, engine: AsyncEngine
) -> None:
    reference = await add_outage(staff.app, ["0161"], cause="a flooded cabinet")
    conversation, _ = await escalated(engine, "a", channel=Channel.X)
    await about(engine, conversation, "0161")
    path = f"/api/conversations/{conversation}/macros"

    status, body = await staff.call("GET", path, as_="agent")

    assert status == 200
    first = body["macros"][0]
    assert (first["key"], first["title"], first["shortcut"]) == (
        "macro_apology_eta",
        "apology eta",
        "Alt+1",
    )
    assert "Manchester (0161), caused by a flooded cabinet" in first["text"]
    assert reference in first["text"] and first["missing"] == []
    assert [m["shortcut"] for m in body["macros"]] == ["Alt+1", "Alt+2", "Alt+3", "Alt+4"]
    assert (await staff.call("GET", path, as_=None))[0] == 401
    assert (await staff.call("GET", path, as_="comms"))[0] == 403
    assert (await staff.call("GET", "/api/conversations/999/macros", as_="admin"))[0] == 404
    assert (await staff.call("GET", "/api/conversations/abc/macros", as_="admin"))[0] == 404


async def test_comms_staff_create_and_delete_macros_audited(
    staff: Staff, engine: AsyncEngine, sign_in: SignIn
) -> None:
    new = {"key": "macro_engineer_booked", "text": "Hello {name}, an engineer is booked."}
    assert (await staff.call("POST", "/api/responses", as_="agent", json=new))[0] == 403
    comms = await sign_in(staff.base, "comms")
    assert (await comms.call("POST", "/api/responses", json=new, csrf=None))[0] == 403

    status, created = await comms.call("POST", "/api/responses", json=new)
    assert (status, created["key"]) == (201, "macro_engineer_booked")
    status, error = await comms.call("POST", "/api/responses", json=new)
    assert (status, "exists already" in error["error"]) == (409, True)
    for body, reason in [
        ({"key": "utter_new", "text": "Hi"}, "must be a macro"),
        ({"key": "macro_x", "text": "Hi {resolved_at}"}, "unknown placeholder"),
        ({"key": 5, "text": "Hi"}, "'key' must be a string"),
        ({"key": "macro_y"}, "'text' must be a string"),
    ]:
        status, error = await comms.call("POST", "/api/responses", json=body)
        assert (status, reason in error["error"]) == (422, True), error
    _, listed = await staff.call("GET", "/api/responses", as_="agent")
    assert "macro_engineer_booked" in [r["key"] for r in listed["responses"]]

    path = "/api/responses/macro_engineer_booked"
    assert (await comms.call("DELETE", path, csrf=None))[0] == 403
    assert (await comms.call("DELETE", path)) == (200, {"deleted": "macro_engineer_booked"})
    assert (await comms.call("DELETE", path))[0] == 404
    status, error = await comms.call("DELETE", "/api/responses/utter_greet")
    assert (status, "the bot's own responses" in error["error"]) == (422, True)
    entries = [
        (e["actor"], e["action"], e["target"])
        for e in await audit.entries(engine)
        if e["action"].startswith("macro_")
    ]
    assert entries == [
        ("comms", "macro_deleted", "macro_engineer_booked"),
        ("comms", "macro_created", "macro_engineer_booked"),
    ]


async def test_a_telegram_and_a_web_customer_waiting_about_one_outage_each_get_the_answer_once(
    engine: AsyncEngine, database_url: str, rasa_server: str, app_port: int, tmp_path: Path
) -> None:
    fake = FakeTelegram()
    await fake.start()
    settings = replace(
        app_settings(database_url, rasa_server, app_port, tmp_path),
        telegram_bot_token=Secret(fake.token),
        telegram_api_url=fake.api_url,
    )
    chat = 424242
    try:
        async with running_app(settings) as live:  # TELEGRAM_* settings start the channel
            tokens = await add_staff(live.app[engine_key])
            reference = await add_outage(live.app, ["0161"], cause="a cut fibre cable")
            async with asyncio.timeout(30):
                await live.app[telegram_key].ready.wait()
            # Both ask Rasa about the outage, then for a person.
            await fake.inject(fake.message(chat, "is broadband down in Manchester?"))
            await fake.wait_sent(2, within=60)  # the apology and the offer to notify
            await fake.inject(fake.message(chat, "could i speak with an advisor please"))
            await fake.wait_sent(3, within=60)
            await live.chat("web-customer", "no broadband in 0161")
            handed = await live.chat("web-customer", "could i speak with an advisor please")
            assert handed["conversation"]["state"] == "escalated"

            headers = {"Authorization": f"Bearer {tokens['agent']}", "Idempotency-Key": "once"}
            url = f"{live.url}/api/incidents/{reference}/answer"
            results = []
            for _press in range(2):
                async with live.client.post(url, json={"text": ANSWER}, headers=headers) as r:
                    results.append((r.status, await r.json()))

            async def answered_on_telegram() -> bool:
                return ANSWER in [m.text for m in fake.sent]

            await eventually("the answer on Telegram", answered_on_telegram, within=30)
            await asyncio.sleep(2)  # time enough for a duplicate to show, were there one
            web_replies = []
            for _pick_up in range(2):
                web_replies += [r["text"] for r in (await live.updates("web-customer"))["replies"]]
            async with AsyncSession(live.app[engine_key]) as session:
                hand_offs = (await session.exec(select(Escalation))).all()
    finally:
        await fake.close()

    assert [(status, body["sent"], body["replayed"]) for status, body in results] == [
        (200, 2, False),
        (200, 2, True),
    ]
    assert {(h.area_code, h.state) for h in hand_offs} == {("0161", "open")}
    answers = [m for m in fake.sent if m.text == ANSWER]
    assert [m.chat_id for m in answers] == [chat]
    assert web_replies.count(ANSWER) == 1

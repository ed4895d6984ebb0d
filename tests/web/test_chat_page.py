"""The /chat page in a real browser: the customer's side of the web chat, keyboard only.

The real app, the real Rasa server and model; expected sentences are rendered from the
canned response store, as in ``test_chat``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.keys import engine_key, incidents_key, responses_key, settings_key
from bot.messages import Variant
from bot.models import utcnow
from bot.responses.eta import eta_phrase
from bot.web.chat import COOKIE
from tests.conftest import LiveApp, add_outage, app_settings, running_app
from tests.scratch import free_port
from tests.web.conftest import DEAD_RASA, StartBrowser, add_staff

pytestmark = pytest.mark.e2e


def render(live: LiveApp, key: str, **values: str) -> str:
    return live.app[responses_key].render(key, Variant.WEB, values)


async def test_customer_types_and_hears_cause_eta_then_a_follow_up(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    reference = await add_outage(live_app.app, ["0161"])
    customer = await browsers(live_app.url, "/chat")
    assert await customer.focused() == "text", "the message box should have the focus"
    assert await customer.unnamed_controls() == []

    await customer.keys("broadband down in 0161", Keys.ENTER)
    apology = await customer.wait_for_text(".msg.bot", reference)
    incident = (await live_app.app[incidents_key].get(reference)).incident
    assert incident.eta is not None
    assert "a power failure at a partner's site" in apology
    assert eta_phrase(incident.eta, utcnow(), live_app.app[settings_key].tz) in apology
    await customer.wait_for_text(".msg.bot", render(live_app, "utter_offer_notify"))
    assert await customer.value("#text") == "", "the box should be empty for the next message"
    assert await customer.texts(".msg.me") == ["broadband down in 0161"]

    await customer.keys("when will it be back", Keys.ENTER)
    answers = await customer.wait_for_count(".msg.bot", 3)
    assert "Manchester" in answers[2], answers
    assert render(live_app, "utter_ask_area_code") not in answers


async def test_blank_message_is_not_sent(live_app: LiveApp, browsers: StartBrowser) -> None:
    customer = await browsers(live_app.url, "/chat")
    await customer.keys("   ", Keys.ENTER)
    await customer.keys("hi", Keys.ENTER)
    await customer.wait_for_text(".msg.bot", render(live_app, "utter_greet"))
    assert await customer.texts(".msg.me") == ["hi"]


async def test_the_chat_secret_is_a_cookie_the_page_cannot_read_and_losing_it_starts_anew(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    customer = await browsers(live_app.url, "/chat")
    await customer.keys("hi", Keys.ENTER)
    greeting = render(live_app, "utter_greet")
    await customer.wait_for_text(".msg.bot", greeting)
    [cookie] = [c for c in await customer.cookies() if c["name"] == COOKIE]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        True,
        "Strict",
        "/api/chat",
    )
    assert COOKIE not in await customer.evaluate("return document.cookie")
    first = await customer.evaluate("return localStorage.getItem('outage-bot-sender')")
    await customer.keys("hello", Keys.ENTER)
    await customer.wait_for_count(".msg.bot", 2)  # the cookie went with the second message

    await customer.clear_cookies()
    await customer.keys("hi again", Keys.ENTER)
    await customer.wait_for_text(".msg.note", "We started a new chat for you.")
    assert (await customer.wait_for_count(".msg.bot", 3))[2] == greeting
    assert await customer.evaluate("return localStorage.getItem('outage-bot-sender')") != first
    assert await customer.texts(".msg.me.unsent") == []


async def test_page_shows_the_wait_for_an_agent_and_its_end(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    customer = await browsers(live_app.url, "/chat")
    default_title = customer.driver.title
    await customer.keys("i want to talk to a real person", Keys.ENTER)
    await customer.wait_for_text(".msg.bot", render(live_app, "utter_handoff"))
    await customer.wait_until("the title to say so", lambda d: "Waiting for an agent" in d.title)

    tokens = await add_staff(live_app.app[engine_key])
    headers = {"Authorization": f"Bearer {tokens['agent']}"}
    async with live_app.client.get(f"{live_app.url}/api/escalations", headers=headers) as got:
        [entry] = (await got.json())["escalations"]
    release = f"{live_app.url}/api/conversations/{entry['conversation_id']}/release"
    async with live_app.client.post(release, headers=headers) as released:
        assert released.status == 200, await released.text()
    await customer.wait_until("the title to be the page's own", lambda d: d.title == default_title)


async def test_a_message_that_cannot_be_sent_stays_in_the_box_to_send_again(
    database_url: str, engine: AsyncEngine, tmp_path: Path, browsers: StartBrowser
) -> None:
    settings = app_settings(database_url, DEAD_RASA, free_port(), tmp_path)
    async with running_app(settings) as live:
        customer = await browsers(live.url, "/chat")
    # The server has gone away.
    await customer.keys("is my broadband down", Keys.ENTER)
    note = await customer.wait_for_text(".msg.note", "")
    assert "server" in note, note
    assert await customer.value("#text") == "is my broadband down"
    assert await customer.texts(".msg.me.unsent") == ["is my broadband down"]

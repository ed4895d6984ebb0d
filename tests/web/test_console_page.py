"""The agent console in a real browser, with a customer on the web chat page beside it.

The whole hand-off as the two people live it: the customer asks for a person, the agent
(keyboard only) sees them arrive, opens, claims and answers; the customer reads the
answer; the agent gives the conversation back and the bot answers again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import store as conversations
from bot.keys import engine_key, responses_key
from bot.messages import Channel, Inbound, Variant
from bot.models import MessageState
from tests.conftest import LiveApp, add_outage, app_settings, running_app
from tests.scratch import free_port
from tests.web.browser import Tab
from tests.web.conftest import DEAD_RASA, StartBrowser, add_staff, password_of

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
"""Where the console's screenshots go, for people to look at (var/ is not committed)."""


async def signed_in(
    live: LiveApp, browsers: StartBrowser, name: str, password: str | None = None
) -> Tab:
    """A new browser that asks for ``/console`` and signs in on the way."""
    agent = await browsers(live.url, "/console")
    await agent.sign_in(name, password or password_of(name))
    return agent


async def held_back(live: LiveApp, sender: str, text: str) -> None:
    """A web-chat message stored as if over the flood limit (a limit of 1 for this one).

    The whole flood through the real Rasa is ``tests/web/test_flood.py``'s; here the
    console only has to show one.
    """
    inbound = Inbound(Channel.WEB, sender, text, external_id=f"{sender}-held", variant=Variant.WEB)
    received = await conversations.receive(live.app[engine_key], inbound, flood_limit=1)
    assert received is not None and received.message.state == MessageState.FLOODED


async def test_customer_asks_for_a_person_and_an_agent_answers_from_the_keyboard(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    await add_staff(live_app.app[engine_key])
    agent = await signed_in(live_app, browsers, "agent")
    await agent.wait_for_text("#who", "agent (agent)")
    await agent.wait_for_text("#queue", "Nobody is waiting")

    customer = await browsers(live_app.url, "/chat")
    await customer.keys("my line is dead and my dad relies on his care alarm", Keys.ENTER)
    await customer.wait_until("the hand-off", lambda d: "Waiting for an agent" in d.title)

    # The live link brings the customer in; polling alone would take 30 s.
    arrival = await agent.wait_for_text("#queue li", "vulnerable", within=5)
    assert "waiting for an agent" in arrival and "web" in arrival
    assert agent.driver.title.startswith("(1) "), "the tab's title counts who waits"

    await agent.keys(Keys.ENTER)
    await agent.wait_for_text("#transcript", "care alarm")
    assert await agent.unnamed_controls() == []
    await agent.keys("c")
    await agent.wait_for_text("#status", "Claimed")
    await agent.wait_for_text("#facts", "held by agent")
    await agent.keys("r")
    assert await agent.focused() == "reply"
    answer = "Hello, this is Sam. I have booked an engineer for today."
    await agent.keys(answer, Keys.CONTROL, Keys.ENTER)
    await agent.wait_for_text("#status", "Reply queued for delivery.")
    await agent.wait_for_text("#transcript .msg.agent", answer)
    assert await agent.value("#reply") == ""

    await customer.wait_for_text(".msg.bot", answer)
    await customer.wait_until("the title to say so", lambda d: "Talking to an agent" in d.title)

    await agent.click("#release")
    await agent.wait_for_text("#status", "Given back to the bot.")
    await agent.wait_for_text("#queue", "Nobody is waiting")
    assert not agent.driver.title.startswith("(")
    await customer.keys("hello", Keys.ENTER)
    greeting = live_app.app[responses_key].render("utter_greet", Variant.WEB, {})
    await customer.wait_for_text(".msg.bot", greeting)


async def test_in_a_surge_macros_the_customers_area_and_one_answer_to_all(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    await add_staff(live_app.app[engine_key])
    reference = await add_outage(live_app.app, ["0161"], cause="a cut fibre cable")
    for customer in ("manchester-1", "manchester-2"):
        await live_app.chat(customer, "no broadband in Manchester")
        if customer == "manchester-1":
            await held_back(live_app, customer, "hello?? anyone??")
        handed = await live_app.chat(customer, "could i speak with an advisor please")
        assert handed["conversation"]["state"] == "escalated"
    agent = await signed_in(live_app, browsers, "agent")
    await agent.wait_for_count("#queue li[role=option]", 2)
    group = await agent.wait_for_text("#groups", f"Answer all 2 waiting about {reference}")
    assert "0161" in (await agent.texts("#queue li"))[0]

    await agent.keys(Keys.ENTER)
    panel = await agent.wait_for_text("#customer", "0161 · Manchester")
    assert reference in panel and "fix expected" in panel
    macros = await agent.wait_for_count("#macros li", 4)
    assert macros[0].startswith("Alt+1") and "apology eta" in macros[0]
    assert await agent.unnamed_controls() == []
    held = await agent.wait_for_text("#transcript .msg.flooded", "hello?? anyone??")
    assert "held back: flood · the bot never answered" in held
    SHOTS.mkdir(parents=True, exist_ok=True)
    await agent.screenshot(SHOTS / "console-surge.png")
    await agent.screenshot(SHOTS / "console-flooded.png")

    await agent.keys("r")
    await agent.keys("Thanks for waiting. ", Keys.ALT, "1")
    await agent.wait_for_text("#status", 'Inserted "apology eta"')
    written = await agent.value("#reply")
    assert written.startswith("Thanks for waiting. Hello manchester-1, I'm sorry")
    assert "Manchester (0161), caused by a cut fibre cable" in written and reference in written
    assert await agent.focused() == "reply", "the macro stays editable before sending"

    # One answer to both, confirmed before it goes.
    await agent.keys(Keys.ESCAPE, "a")
    assert await agent.focused() == "answer-text"
    await agent.keys("Engineers are splicing the cable now; back by 18:00.")
    await agent.click("#answer-next")
    await agent.wait_for_text("#answer-question", "Send this to the 2 customers")
    await agent.click("#answer-send")
    await agent.wait_for_text("#status", f"Answer sent to 2 customers waiting about {reference}")
    await agent.wait_for_text("#transcript .msg.agent", "splicing the cable")
    assert group and await agent.page_errors() == []
    for customer in ("manchester-1", "manchester-2"):
        replies = [r["text"] for r in (await live_app.updates(customer))["replies"]]
        assert replies == ["Engineers are splicing the cable now; back by 18:00."]


async def test_a_wrong_password_is_refused_on_the_sign_in_page(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    await add_staff(live_app.app[engine_key])
    agent = await signed_in(live_app, browsers, "agent", "not-the-password")
    await agent.wait_for_text(".error", "not right")
    assert (await agent.path()).startswith("/login")
    assert await agent.value("#username") == "agent"
    assert await agent.focused() == "password", "only the password needs typing again"


async def test_closing_needs_an_outcome_then_the_customer_starts_afresh_with_the_bot(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    await add_staff(live_app.app[engine_key])
    customer = await browsers(live_app.url, "/chat")
    await customer.keys("i want compensation for this", Keys.ENTER)
    await customer.wait_until("the hand-off", lambda d: "Waiting for an agent" in d.title)
    agent = await signed_in(live_app, browsers, "agent")
    await agent.wait_for_text("#queue li", "compensation")
    await agent.keys(Keys.ENTER, "c")
    await agent.wait_for_text("#facts", "held by agent")

    await agent.click("#close")
    await agent.wait_for_text("#status", "Say how it ended")
    assert await agent.focused() == "outcome"
    await agent.keys("goodwill credit applied")
    await agent.click("#close")
    await agent.wait_for_text("#status", "Conversation closed.")
    await agent.wait_for_text("#queue", "Nobody is waiting")
    await agent.wait_for_text("#facts", "state: closed")

    await customer.wait_until("the page's own title", lambda d: "agent" not in d.title)
    await customer.keys("hi", Keys.ENTER)
    greeting = live_app.app[responses_key].render("utter_greet", Variant.WEB, {})
    await customer.wait_for_text(".msg.bot", greeting)


async def test_the_console_says_when_its_live_link_is_down(
    database_url: str, engine: AsyncEngine, tmp_path: Path, browsers: StartBrowser
) -> None:
    await add_staff(engine)
    async with running_app(app_settings(database_url, DEAD_RASA, free_port(), tmp_path)) as live:
        agent = await signed_in(live, browsers, "agent")
        await agent.wait_for_text("#link", "live")
    # The server has gone away under the page.
    await agent.wait_for_text("#link", "offline")

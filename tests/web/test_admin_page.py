"""The comms console in a real browser: what staff do there reaches the next customer.

The real app and Rasa: after each change made on the page a customer writes on the web
chat and must hear it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.keys import engine_key, responses_key
from bot.messages import Variant
from tests.conftest import LiveApp, add_outage, app_settings, running_app
from tests.scratch import free_port
from tests.web.browser import Tab
from tests.web.conftest import DEAD_RASA, StartBrowser, add_staff, password_of
from tests.web.test_chat import sender, texts

pytestmark = pytest.mark.e2e


async def comms_console(live: LiveApp, browsers: StartBrowser) -> Tab:
    await add_staff(live.app[engine_key])
    comms = await browsers(live.url, "/admin")
    await comms.sign_in("comms", password_of("comms"))
    await comms.wait_for_text("#who", "comms (comms)")
    return comms


async def test_incident_created_on_the_page_is_told_to_the_next_customer(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    comms = await comms_console(live_app, browsers)
    assert await comms.unnamed_controls() == []
    await comms.fill("#f-cause", "a power failure at a partner's site in London")
    await comms.fill("#f-title", "Power failure at a London peering site")
    await comms.fill("#f-areas", "0161, Leeds", Keys.ENTER)
    created = await comms.wait_for_text("#form-ok", "Created")
    assert "0161" in created and "0113" in created, created
    await comms.wait_for_text("#incident-rows", "Power failure at a London peering site")

    answer = texts(await live_app.chat(sender(), "any problem in leeds"))
    assert "a power failure at a partner's site in London" in answer[0], answer


async def test_edited_response_is_the_next_reply_and_a_bad_one_is_refused(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    comms = await comms_console(live_app, browsers)
    await comms.click("#tab-responses")
    await comms.fill("#response-filter", "greet")
    await comms.click("#response-keys button")
    await comms.wait_for_text("#response-editor h2", "utter_greet")
    assert await comms.unnamed_controls() == []
    web_text = "[data-channel='web'] textarea"

    await comms.fill(web_text, "Hello from the status team. Which area code are you in?")
    await comms.click("[data-channel='web'] .save")
    await comms.wait_for_text("[data-channel='web'] .ok", "Saved")
    greeting = texts(await live_app.chat(sender(), "hi"))
    assert greeting == ["Hello from the status team. Which area code are you in?"]

    await comms.fill(web_text, "Hello {nonsense}")
    await comms.click("[data-channel='web'] .save")
    refusal = await comms.wait_for_text("[data-channel='web'] .error", "nonsense")
    assert refusal
    assert texts(await live_app.chat(sender(), "hi")) == greeting
    store = live_app.app[responses_key]
    assert store.render("utter_greet", Variant.WEB, {}) == greeting[0]


async def test_resolving_on_the_page_tells_the_customer_who_asked_on_theirs(
    live_app: LiveApp, browsers: StartBrowser
) -> None:
    reference = await add_outage(live_app.app, ["0113"])
    customer = await browsers(live_app.url, "/chat")
    await customer.keys("broadband down in leeds", Keys.ENTER)
    await customer.wait_for_text(".msg.bot", reference)
    await customer.keys("yes please", Keys.ENTER)
    await customer.wait_for_count(".msg.bot", 3)
    told = len(await customer.texts(".msg.bot"))

    comms = await comms_console(live_app, browsers)
    await comms.click(f"#incident-rows tr[data-reference='{reference}']")
    await comms.wait_for_text("#form-title", reference)
    await comms.click("#resolve")
    await comms.wait_for_text("#form-ok", "Resolved")
    # The list is fetched again after the answer: the row leaves it a moment later.
    row = f"#incident-rows tr[data-reference='{reference}']"
    await comms.wait_until(
        "the resolved incident to leave the active list",
        lambda d: not d.find_elements(By.CSS_SELECTOR, row),
    )

    notices = await customer.wait_for_count(".msg.bot", told + 1)
    fixed = notices[told]
    assert "Leeds" in fixed or reference in fixed, fixed


async def test_the_common_moves_need_no_mouse(live_app: LiveApp, browsers: StartBrowser) -> None:
    comms = await comms_console(live_app, browsers)
    await comms.keys("n")
    assert await comms.focused() == "f-title"
    await comms.keys("Cable cut in Leeds", Keys.ESCAPE, "2", "/")
    assert await comms.focused() == "response-filter"
    await comms.keys("greet", Keys.TAB, Keys.ENTER)
    await comms.wait_for_text("#response-editor h2", "utter_greet")
    web_text = "[data-channel='web'] textarea"
    await comms.fill(web_text, "Hi, which area code are you in?", Keys.CONTROL, Keys.ENTER)
    await comms.wait_for_text("[data-channel='web'] .ok", "Saved")
    assert texts(await live_app.chat(sender(), "hello")) == ["Hi, which area code are you in?"]

    await comms.keys(Keys.ESCAPE, "1", "/")
    assert await comms.focused() == "filter-area"
    assert await comms.value("#f-title") == "Cable cut in Leeds", "a tab switch keeps a draft"
    assert await comms.page_errors() == []


async def test_comms_staff_write_a_new_macro_and_delete_one(
    database_url: str, engine: AsyncEngine, tmp_path: Path, browsers: StartBrowser
) -> None:
    settings = app_settings(database_url, DEAD_RASA, free_port(), tmp_path)
    async with running_app(settings) as live:  # macros need no Rasa
        comms = await comms_console(live, browsers)
        store = live.app[responses_key]
        await comms.click("#tab-responses")
        await comms.click("#new-macro")
        assert await comms.focused() == "macro-name"
        await comms.keys("Engineer booked")
        await comms.wait_for_text("#response-editor", "key: macro_engineer_booked")
        await comms.fill("#macro-text", "Hello {name}, an engineer is booked for {place}.")
        assert await comms.unnamed_controls() == []
        await comms.click("#response-editor .save")
        await comms.wait_for_text("[data-channel='default'] .ok", "Created")
        await comms.wait_for_text("#response-keys", "macro engineer booked")
        channels = await comms.texts(".variant strong")
        assert "x_public" not in channels, "agents answer on X by direct message"
        assert store.render("macro_engineer_booked", Variant.TELEGRAM, {"name": "Ann"}) == (
            "Hello Ann, an engineer is booked for ."
        )

        await comms.click("#delete-macro")
        await comms.wait_for_text("#delete-macro", "Really delete macro_engineer_booked?")
        assert "macro_engineer_booked" in store.macros(), "one press deletes nothing"
        await comms.click("#delete-macro")
        await comms.wait_for_text("#response-editor .ok", "Deleted macro_engineer_booked")
        assert "macro_engineer_booked" not in store.macros()

"""Signing in once in a real browser: every staff page in every tab, until signing out.

Runs the app without Rasa (no page here needs it) and reads Chromium's console log for
Content-Security-Policy violations on every page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.web.sign_in import FORM_COOKIE
from tests.conftest import LiveApp, app_settings, running_app
from tests.scratch import free_port
from tests.web.browser import Tab
from tests.web.conftest import DEAD_RASA, StartBrowser, add_staff, password_of

pytestmark = pytest.mark.e2e


@pytest.fixture
async def live(database_url: str, engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[LiveApp]:
    """The app (no Rasa) with a user of each role (see ``add_staff``)."""
    await add_staff(engine)
    async with running_app(app_settings(database_url, DEAD_RASA, free_port(), tmp_path)) as app:
        yield app


async def _signed_in_at(
    live: LiveApp, browsers: StartBrowser, path: str, name: str, password: str | None = None
) -> Tab:
    tab = await browsers(live.url, path)
    assert (await tab.path()).startswith("/login?next="), "no session: sign in first"
    held = {c["name"]: c for c in await tab.cookies()}
    assert held[FORM_COOKIE]["sameSite"] == "Strict" and held[FORM_COOKIE]["httpOnly"]
    await tab.sign_in(name, password or password_of(name))
    await tab.wait_until(f"{path} after signing in", lambda d: d.current_url.endswith(path))
    assert FORM_COOKIE not in {c["name"] for c in await tab.cookies()}, "cleared by signing in"
    return tab


async def test_one_sign_in_serves_every_page_in_every_tab_until_signing_out(
    live: LiveApp, browsers: StartBrowser
) -> None:
    admin = await _signed_in_at(live, browsers, "/console", "admin")
    await admin.wait_for_text("#who", "admin (admin)")
    await admin.wait_for_text("#queue", "Nobody is waiting")
    await admin.wait_for_text("#link", "live")
    console = admin.driver.current_window_handle

    comms_tab = await admin.new_tab("/admin")
    await admin.wait_for_text("#who", "admin (admin)")
    await admin.keys("n")
    await admin.fill("#f-title", "Fibre cut near Leeds")
    await admin.fill("#f-areas", "0113", Keys.ENTER)
    await admin.wait_for_text("#form-ok", "Created")

    await admin.new_tab("/admin/users")
    await admin.wait_for_text("#user-rows", "agent2")
    await admin.wait_for_text("#audit-rows", "incident created")
    assert await admin.unnamed_controls() == []
    assert await admin.csp_violations() == []

    await admin.switch_to(comms_tab)
    await admin.click("#signout")
    await admin.wait_until("the sign-in page", lambda d: "/login" in d.current_url)
    await admin.switch_to(console)
    await admin.open("/console")
    assert (await admin.path()).startswith("/login?next="), "signing out ended every tab"
    assert await admin.csp_violations() == []


async def test_an_agent_is_refused_the_admin_pages_and_apis(
    live: LiveApp, browsers: StartBrowser
) -> None:
    agent = await _signed_in_at(live, browsers, "/console", "agent")
    await agent.wait_for_text("#who", "agent (agent)")
    links = await agent.texts("header a")
    assert "Comms console" not in links and "Users & audit" not in links
    assert await agent.fetch_status("GET", "/api/users") == 403
    assert await agent.fetch_status("GET", "/api/audit") == 403
    assert await agent.fetch_status("POST", "/api/incidents") == 403  # no CSRF, no role

    await agent.open("/admin/users")
    await agent.wait_for_text("h1", "Not allowed")
    assert "agent is agent" in (await agent.texts("main"))[0]
    await agent.open("/admin")
    await agent.wait_for_text("h1", "Not allowed")
    assert await agent.csp_violations() == []


async def test_a_new_colleague_signs_in_with_the_password_the_admin_was_shown(
    live: LiveApp, browsers: StartBrowser
) -> None:
    admin = await _signed_in_at(live, browsers, "/admin/users", "admin")
    await admin.wait_for_text("#user-rows", "agent2")
    await admin.fill("#new-name", "robin")
    await admin.click("#add-user button")
    secret = await admin.wait_for_text("#secret", "password:")
    password = secret.split("password: ", 1)[1].split("\n", 1)[0]
    await admin.wait_for_text("#user-rows", "robin")

    robin = await _signed_in_at(live, browsers, "/console", "robin", password)
    await robin.wait_for_text("#who", "robin (agent)")

"""The outage as staff see it: customers' reports raise an early warning on the dashboard,
an incident opened from it clears the warning and each earlier reporter is told once.

Real Rasa reads the customers' messages; the dashboard runs in Chromium under its own
Content-Security-Policy (no inline script or style), so a refusal would be a page error.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.keys import engine_key
from bot.models import FollowUp, Message, Report
from tests.conftest import LiveApp, app_settings, running_app
from tests.scratch import eventually
from tests.web.browser import Tab
from tests.web.conftest import StartBrowser, add_staff, password_of

pytestmark = pytest.mark.e2e

AREA = "0114"  # Sheffield
REPORTERS = 5
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
"""Where the dashboard's screenshots go, for people to look at (var/ is not committed)."""


async def staff_get(live: LiveApp, path: str, token: str) -> Any:
    async with live.client.get(
        live.url + path, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def sign_in(browsers: StartBrowser, live: LiveApp, name: str) -> Tab:
    tab = await browsers(live.url, "/dashboard")
    await tab.sign_in(name, password_of(name))
    return tab


async def follow_ups_of(engine: AsyncEngine) -> dict[int, list[str]]:
    """The follow-up texts queued per conversation."""
    async with AsyncSession(engine) as session:
        rows = await session.exec(
            select(Message.conversation_id, Message.text)
            .where(Message.direction == "out", col(Message.text).contains("An update on"))
            .order_by(col(Message.id))
        )
        found: dict[int, list[str]] = {}
        for conversation_id, text in rows.all():
            found.setdefault(conversation_id, []).append(text)
        return found


async def test_a_burst_of_reports_raises_an_alert_that_becomes_an_incident(
    engine: AsyncEngine,
    database_url: str,
    rasa_server: str,
    app_port: int,
    tmp_path: Path,
    browsers: StartBrowser,
) -> None:
    settings = replace(
        app_settings(database_url, rasa_server, app_port, tmp_path),
        alert_check_seconds=0.5,
        alert_min_reports=REPORTERS,
    )
    async with running_app(settings) as live:
        tokens = await add_staff(live.app[engine_key])
        SHOTS.mkdir(parents=True, exist_ok=True)
        for number in range(REPORTERS):
            answer = await live.chat(f"sheffield-{number}", f"my broadband is down in {AREA}")
            replies = " ".join(r["text"] for r in answer["replies"])
            assert "no known faults" in replies, replies

        (alert,) = await eventually("the alert", lambda: _alerts(live, tokens["agent"]))
        assert alert["area_codes"] == [AREA] and alert["reports"] == REPORTERS
        assert set(alert) >= {"id", "area_codes", "reports", "since", "sample_messages"}
        assert all(AREA in m for m in alert["sample_messages"])

        comms = await sign_in(browsers, live, "comms")
        card = await comms.wait_for_text("#alerts li.alert", f"Reports rising in {AREA}")
        assert f"{REPORTERS} customers" in card
        assert comms.driver.title.startswith("(1 alert) ")
        lines = comms.driver.find_elements(By.CSS_SELECTOR, "#chart svg polyline")
        assert len(lines) == 1, "the chart draws the one area with reports"
        assert "0114 Sheffield: 5 in 24 h" in await comms.wait_for_text("#chart-caption", "0114")
        assert AREA in (await comms.texts("#areas tbody tr"))[0]
        assert await comms.unnamed_controls() == []
        await comms.screenshot(SHOTS / "dashboard-alert.png")

        # Keyboard: "a" reaches the alert's first action, which opens the draft incident.
        await comms.keys("a")
        assert await comms.focused("class") == "open-incident"
        await comms.keys(Keys.ENTER)
        assert await comms.value("#d-areas") == AREA
        assert await comms.focused() == "d-title"
        await comms.fill("#d-cause", "a damaged cable near Sheffield")
        await comms.click("#d-submit")
        await comms.wait_for_text("#status", "opened")
        await comms.wait_for_text("#alerts", "No early warnings")
        assert (await staff_get(live, "/api/alerts", tokens["agent"]))["alerts"] == []
        assert await comms.page_errors() == []

        told = await eventually("the follow-ups", lambda: _all_told(live.app[engine_key]))
        assert sorted(len(texts) for texts in told.values()) == [1] * REPORTERS
        assert all("a damaged cable near Sheffield" in t[0] for t in told.values())
        await asyncio.sleep(2.5)  # another follow-up pass
        assert await follow_ups_of(live.app[engine_key]) == told, "told once, never twice"
        async with AsyncSession(live.app[engine_key]) as session:
            assert (await session.exec(select(func.count()).select_from(FollowUp))).one() == 5
            assert (await session.exec(select(func.count()).select_from(Report))).one() == 5

        # The customer's own web chat collects the follow-up.
        updates = await live.updates("sheffield-0")
        assert any("a damaged cable" in r["text"] for r in updates["replies"])


async def _alerts(live: LiveApp, token: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = (await staff_get(live, "/api/alerts", token))["alerts"]
    return alerts


async def _all_told(engine: AsyncEngine) -> dict[int, list[str]] | None:
    told = await follow_ups_of(engine)
    return told if len(told) == REPORTERS else None

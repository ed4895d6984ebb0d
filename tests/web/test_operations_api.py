"""``/api/stats``, ``/api/alerts`` and the background jobs behind them, through the app.

No Rasa here: reports are written as the outage check writes them. The early-warning
webhook posts to a small aiohttp receiver on 127.0.0.1, as a team's chat tool would get it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Alert, Incident, Message, utcnow
from bot.settings import Secret, Settings
from bot.subscriptions import subscribe
from bot.web.app import create_app
from tests.operations.conftest import customer, report
from tests.scratch import eventually, free_port, locator_for
from tests.web.conftest import DEAD_RASA, ClientFactory, Staff, add_staff, password_of


@dataclass
class Receiver:
    """A chat tool's incoming webhook: keeps what was posted."""

    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}/hooks/secret-token")

    async def take(request: web.Request) -> web.Response:
        found.posts.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hooks/secret-token", take)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield found
    await runner.cleanup()


@pytest.fixture
async def ops(
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    receiver: Receiver,
) -> Staff:
    """The whole app with a fast alert check and the webhook pointed at ``receiver``."""
    settings = replace(
        Settings.from_env(environ={}),
        database_url=database_url,
        rasa_url=DEAD_RASA,
        var_dir=tmp_path,
        alert_check_seconds=0.2,
        alert_min_reports=3,
        alert_webhook_url=Secret(receiver.url),
    )
    client = await aiohttp_client(create_app(settings, locator=locator_for(settings.data_dir)))
    return Staff(client, await add_staff(engine))


async def burst(engine: AsyncEngine, area: str, customers: int) -> list[int]:
    ids = []
    for number in range(customers):
        ids.append(await customer(engine, f"{area}-{number}"))
        await report(engine, ids[-1], area, utcnow(), text=f"no broadband in {area}")
    return ids


async def open_alerts(ops: Staff) -> list[dict[str, Any]]:
    status, body = await ops.call("GET", "/api/alerts", as_="agent")
    assert status == 200
    alerts: list[dict[str, Any]] = body["alerts"]
    return alerts


async def test_an_alert_is_posted_to_the_webhook_and_dismissed_by_comms(
    ops: Staff, engine: AsyncEngine, receiver: Receiver
) -> None:
    await burst(engine, "0161", 3)
    (alert,) = await eventually("the alert", lambda: open_alerts(ops))
    assert alert["area_codes"] == ["0161"] and alert["reports"] == 3
    await eventually("the webhook", lambda: asyncio.sleep(0, receiver.posts))
    (post,) = receiver.posts
    assert post["alert"]["id"] == alert["id"]
    assert "3 customers reported faults in 0161 Manchester" in post["text"]

    assert (await ops.call("POST", f"/api/alerts/{alert['id']}/dismiss", as_="agent"))[0] == 403
    status, body = await ops.call("POST", f"/api/alerts/{alert['id']}/dismiss", as_="comms")
    assert status == 200 and body["dismissed_by"] == "comms" and body["dismissed_at"]
    status, body = await ops.call("POST", f"/api/alerts/{alert['id']}/dismiss", as_="comms")
    assert status == 409 and "dismissed already" in body["error"]
    assert (await ops.call("POST", "/api/alerts/999999/dismiss", as_="comms"))[0] == 404
    assert (await ops.call("POST", "/api/alerts/x/incident", as_="comms"))[0] == 404
    assert await open_alerts(ops) == []
    async with AsyncSession(engine) as session:
        stored = await session.get(Alert, alert["id"])
    assert stored is not None and (stored.state, stored.dismissed_by) == ("dismissed", "comms")


async def test_opening_an_incident_from_an_alert_fills_in_its_areas(
    ops: Staff, engine: AsyncEngine
) -> None:
    await burst(engine, "0113", 3)
    (alert,) = await eventually("the alert", lambda: open_alerts(ops))
    status, body = await ops.call("POST", f"/api/alerts/{alert['id']}/incident", json={"eta": "x"})
    assert status == 422 and "ISO 8601" in body["error"]
    assert len(await open_alerts(ops)) == 1, "a refused draft leaves the alert open"
    status, incident = await ops.call(
        "POST", f"/api/alerts/{alert['id']}/incident", as_="comms", json={"cause": "a cut"}
    )
    assert status == 201, incident
    assert incident["areas"] == ["0113"] and incident["status"] == "investigating"
    assert incident["title"] == "Faults reported in Leeds (0113)"
    assert await open_alerts(ops) == []
    status, _body = await ops.call("POST", f"/api/alerts/{alert['id']}/incident", as_="comms")
    assert status == 409


async def test_stats_give_the_dashboard_everything_with_the_chart_on_request(
    ops: Staff, engine: AsyncEngine
) -> None:
    await burst(engine, "020", 2)
    status, figures = await ops.call("GET", "/api/stats", as_="agent")
    assert status == 200
    assert set(figures) >= {"reports", "incidents", "queue", "containment", "alerts"}
    assert "chart" not in figures
    assert figures["reports"]["areas"][0]["area_code"] == "020"
    status, figures = await ops.call("GET", "/api/stats?chart=svg", as_="agent")
    assert figures["chart"]["svg"].startswith("<svg") and "London" in figures["chart"]["svg"]
    status, body = await ops.call("GET", "/api/stats?chart=png", as_="agent")
    assert status == 422 and "svg" in body["error"]
    assert (await ops.call("GET", "/api/stats", as_=None))[0] == 401


async def test_each_subscriber_is_told_once_when_the_fix_moves_later(
    ops: Staff, engine: AsyncEngine
) -> None:
    eta = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    status, incident = await ops.call(
        "POST",
        "/api/incidents",
        as_="comms",
        json={"title": "Cut", "areas": ["0161"], "eta": eta.isoformat()},
    )
    assert status == 201
    subscribers = [await customer(engine, f"sub-{n}") for n in range(4)]
    async with AsyncSession(engine) as session:
        stored = (await session.exec(select(Incident))).one()
    for conversation in subscribers:
        await subscribe(engine, conversation, stored.id or 0, "0161", stored.eta)

    later = (eta + timedelta(minutes=45)).isoformat()
    path = f"/api/incidents/{incident['reference']}"
    assert (await ops.call("PATCH", path, as_="comms", json={"eta": later}))[0] == 200

    async def told() -> list[int]:
        async with AsyncSession(engine) as session:
            rows = await session.exec(
                select(Message.conversation_id).where(
                    Message.direction == "out", col(Message.text).contains("taking longer")
                )
            )
            return list(rows.all())

    await eventually("the notices", told)
    await asyncio.sleep(2.5)  # one more follow-up pass
    notified = await told()
    assert sorted(notified) == sorted(subscribers)


async def test_the_dashboard_page_is_static_under_a_strict_policy(staff: Staff) -> None:
    credentials = {"username": "agent", "password": password_of("agent")}
    async with staff.client.post("/login", json=credentials) as signed_in:
        assert signed_in.status == 200
    async with staff.client.get("/dashboard", allow_redirects=False) as response:
        assert response.status == 200
        policy = response.headers["Content-Security-Policy"]
        html = await response.text()
    assert "'unsafe-inline'" not in policy and "script-src 'self'" in policy
    assert "<style" not in html and "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    for asset in ("dashboard.js", "dashboard.css", "alerts.js", "alerts.css"):
        async with staff.client.get(f"/static/{asset}") as response:
            assert response.status == 200, asset
    async with staff.client.get("/static/secrets.js") as response:
        assert response.status == 404

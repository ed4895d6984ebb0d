"""``GET /metrics``: hidden without its token, Prometheus text that follows the service.

Pages are read back with prometheus-client's own parser, as a Prometheus server would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.handoff.escalation import escalate
from bot.models import Alert, HandOffReason, Message, MessageState, utcnow
from bot.settings import Secret, Settings
from bot.web.app import create_app
from tests.conftest import LiveApp, app_settings, running_app
from tests.scratch import POSTGRES_ADMIN, free_port, locator_for, recreate_database, redis_url
from tests.test_serve import healthy, serve_workers, until, workers_of
from tests.web.conftest import (
    DEAD_RASA,
    ClientFactory,
    Staff,
    add_staff,
    staff_settings,
    start_staff,
)

TOKEN = "scrape-me-0123456789"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample on a page: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def monitored(
    engine: AsyncEngine, database_url: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> Staff:
    """The whole app (Rasa down: customers get the holding reply) with a metrics token."""
    settings = replace(
        Settings.from_env(environ={}),
        database_url=database_url,
        rasa_url=DEAD_RASA,
        var_dir=tmp_path,
        metrics_token=Secret(TOKEN),
    )
    client = await aiohttp_client(create_app(settings, locator=locator_for(settings.data_dir)))
    return Staff(client, await add_staff(engine))


async def scrape(staff: Staff, authorization: str | None = f"Bearer {TOKEN}") -> Samples:
    headers = {"Authorization": authorization} if authorization else {}
    async with staff.client.get("/metrics", headers=headers) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return parse(await response.text())


async def test_there_is_no_metrics_page_without_a_token_configured(staff: Staff) -> None:
    async with staff.client.get("/metrics", headers={"Authorization": "Bearer x"}) as response:
        assert response.status == 404
        assert "error" in await response.json()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", "staff"],
)
async def test_the_page_needs_its_own_bearer_token(monitored: Staff, authorization: str) -> None:
    if authorization == "staff":
        authorization = f"Bearer {monitored.tokens['admin']}"
    headers = {"Authorization": authorization} if authorization else {}
    async with monitored.client.get("/metrics", headers=headers) as response:
        assert response.status == 401
        body = await response.json()
    assert TOKEN not in body["error"]


async def test_counts_and_levels_follow_the_service(monitored: Staff, engine: AsyncEngine) -> None:
    before = await scrape(monitored)
    assert value(before, "outage_bot_alerts_open") == 0
    assert value(before, "outage_bot_handoff_queue", state="open") == 0

    for text in ("broadband down in leeds", "anyone there?"):
        async with monitored.client.post(
            "/api/chat", json={"sender": "metrics-customer", "text": text}
        ) as response:
            assert response.status == 200
            conversation = (await response.json())["conversation"]["id"]
    await escalate(engine, conversation, HandOffReason.REQUEST_HUMAN)
    now = utcnow()
    async with AsyncSession(engine) as session:
        for state in (MessageState.PENDING, MessageState.PENDING, MessageState.FAILED):
            session.add(
                Message(
                    conversation_id=conversation,
                    channel="telegram",
                    direction="out",
                    author="bot",
                    text="queued",
                    state=state,
                )
            )
        session.add(Alert(area_codes="0114", reports=6, since=now - timedelta(minutes=9)))
        await session.commit()

    after = await scrape(monitored)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("outage_bot_messages_total", channel="web", direction="in") == 2
    assert grew("outage_bot_messages_total", channel="web", direction="out") == 2  # holding
    assert value(after, "outage_bot_outbox_messages", channel="telegram", state="pending") == 2
    assert value(after, "outage_bot_outbox_messages", channel="telegram", state="failed") == 1
    assert value(after, "outage_bot_outbox_messages", channel="x", state="pending") == 0
    assert value(after, "outage_bot_handoff_queue", state="open") == 1
    assert value(after, "outage_bot_handoff_oldest_wait_seconds") >= 0
    assert value(after, "outage_bot_alerts_open") == 1


async def test_messages_held_back_by_the_flood_limit_are_counted_by_channel(
    engine: AsyncEngine, database_url: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    settings = staff_settings(database_url, tmp_path, metrics_token=Secret(TOKEN), flood_limit=2)
    monitored = await start_staff(engine, settings, aiohttp_client)
    before = await scrape(monitored)
    assert value(before, "outage_bot_messages_flooded_total", channel="web") == 0

    for sender, count in (("flood-customer", 5), ("calm-customer", 2)):
        for n in range(count):
            async with monitored.client.post(
                "/api/chat", json={"sender": sender, "text": f"anyone there? {n}"}
            ) as response:
                assert response.status == 200

    after = await scrape(monitored)
    assert value(after, "outage_bot_messages_flooded_total", channel="web") == 3
    grew = value(after, "outage_bot_messages_total", channel="web", direction="in") - value(
        before, "outage_bot_messages_total", channel="web", direction="in"
    )
    assert grew == 7, "a flooded message was received all the same"


@pytest.fixture
async def live_monitored(
    engine: AsyncEngine, database_url: str, rasa_server: str, app_port: int, tmp_path: Path
) -> AsyncIterator[LiveApp]:
    """The app with the real Rasa and a metrics token."""
    settings = app_settings(database_url, rasa_server, app_port, tmp_path)
    async with running_app(replace(settings, metrics_token=Secret(TOKEN))) as live:
        yield live


async def live_scrape(live: LiveApp) -> Samples:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with live.client.get(f"{live.url}/metrics", headers=headers) as response:
        assert response.status == 200
        return parse(await response.text())


async def test_rasa_answers_are_timed(live_monitored: LiveApp) -> None:
    before = await live_scrape(live_monitored)

    body = await live_monitored.chat("timed-customer", "hello")
    assert body["replies"]

    after = await live_scrape(live_monitored)
    count = "outage_bot_rasa_response_seconds_count"
    assert value(after, count) - value(before, count) == 1
    total = "outage_bot_rasa_response_seconds_sum"
    assert 0 < value(after, total) - value(before, total) < 30
    slowest = value(after, "outage_bot_rasa_response_seconds_bucket", le="+Inf")
    assert slowest == value(after, count)


def _get(url: str, **headers: str) -> tuple[int, str]:
    """One request on a connection of its own, so the kernel may pick either worker."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


def _chat(port: int, sender: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/chat",
        data=f'{{"sender": "{sender}", "text": "is broadband down in 0161?"}}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _files(directory: Path) -> list[str]:
    """The kinds of prometheus-client's multiprocess files: one per kind and process."""
    return sorted(path.name.split("_")[0] for path in directory.glob("*.db"))


def test_every_scrape_sums_every_worker(tmp_path: Path) -> None:
    """``serve --workers 2``: whichever worker answers, the page counts both workers' messages."""
    name = f"outage_bot_metrics_{os.getpid()}"
    asyncio.run(recreate_database(name))
    port = free_port()
    database_url = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    metrics = {"OUTAGE_BOT_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m")}
    supervisor = serve_workers(database_url, redis_url(15), DEAD_RASA, port, tmp_path, metrics)
    try:
        until(lambda: len(workers_of(supervisor.pid)) == 2 and healthy(port))
        # Healthy is one worker answering; the other may still be starting, so customers
        # keep coming until each worker has counted some (its own file of counters).
        sent = 0
        deadline = time.monotonic() + 60
        while sent < 20 or _files(tmp_path / "m").count("counter") < 2:
            assert time.monotonic() < deadline, _files(tmp_path / "m")
            _chat(port, f"worker-customer-{sent}")
            sent += 1
        counts = set()
        for _ in range(8):
            status, page = _get(
                f"http://127.0.0.1:{port}/metrics", Authorization=f"Bearer {TOKEN}"
            )
            assert status == 200
            counts.add(
                value(parse(page), "outage_bot_messages_total", channel="web", direction="in")
            )
        files = _files(tmp_path / "m")
    finally:
        for pid in workers_of(supervisor.pid):
            os.kill(pid, signal.SIGKILL)
        supervisor.kill()
        supervisor.wait(timeout=30)
        asyncio.run(recreate_database(name, drop_only=True))

    assert counts == {float(sent)}
    assert files.count("counter") == 2  # one file per worker, both summed

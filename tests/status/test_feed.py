"""The status page for machines: JSON and an Atom feed a real feed parser accepts."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import feedparser
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.models import utcnow
from bot.status.board import StatusBoard
from bot.status.feed import atom_feed, status_json

BASE = "https://status.example.com"
LONDON = ZoneInfo("Europe/London")


async def test_feed_and_json_carry_every_incident_on_the_page(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    eta = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    open_one = await book.create(
        title="Leeds & Bradford <cable>", areas=["0113", "01274"], services=["broadband"], eta=eta
    )
    fixed = await book.create(title="Manchester card", areas=["0161"], services=["phone"])
    await book.resolve(fixed.incident.reference)
    snapshot = await StatusBoard(engine, book, locator).current()

    feed = feedparser.parse(atom_feed(snapshot, BASE, LONDON))
    document = status_json(snapshot, BASE)

    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.id == f"{BASE}/status"
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": f"{BASE}/status/feed.atom",
        "alternate": f"{BASE}/status",
    }
    assert feed.feed.updated_parsed is not None
    first, second = feed.entries
    assert first.id == f"{BASE}/status#{open_one.incident.reference}"
    assert first.link == first.id
    assert first.title == "Leeds & Bradford <cable> (Investigating)"
    assert "0113 (Leeds), 01274 (Bradford)" in first.summary
    assert "Estimated fix:" in first.summary
    assert first.updated_parsed is not None
    assert second.title == "Manchester card (Resolved)"

    assert document["updated"] == snapshot.last_modified.isoformat()  # type: ignore[union-attr]
    active, resolved = document["incidents"]
    assert active["reference"] == open_one.incident.reference
    assert active["areas"] == ["0113", "01274"]
    assert active["places"] == {"01274": "Bradford", "0113": "Leeds"}
    assert active["services"] == ["broadband"]
    assert active["eta"] == eta.isoformat()
    assert active["status"] == "investigating" and active["active"] is True
    assert resolved["active"] is False and resolved["resolved_at"] is not None


async def test_an_empty_book_still_gives_a_valid_feed(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    snapshot = await StatusBoard(engine, book, locator).current()

    feed = feedparser.parse(atom_feed(snapshot, BASE, LONDON))

    assert not feed.bozo and feed.entries == []
    assert feed.feed.updated_parsed is not None
    assert status_json(snapshot, BASE) == {
        "updated": None,
        "url": f"{BASE}/status",
        "incidents": [],
    }

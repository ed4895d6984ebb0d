"""The status board: which incidents the page shows, and when it reads them again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, migrate
from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.models import IncidentStatus, utcnow
from bot.settings import Settings
from bot.status import page
from bot.status.board import StatusBoard

HOUR = timedelta(hours=1)


async def test_active_incidents_come_first_then_those_fixed_in_the_last_seven_days(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    now = utcnow()
    older = await book.create(
        title="Leeds cable", areas=["0113"], services=["broadband"], now=now - 3 * HOUR
    )
    newer = await book.create(
        title="London power",
        areas=["020", "01322"],
        services=["broadband", "phone"],
        eta=now + 2 * HOUR,
        now=now - HOUR,
    )
    recent = await book.create(
        title="Manchester card", areas=["0161"], services=["phone"], now=now - timedelta(days=3)
    )
    await book.resolve(recent.incident.reference, now=now - timedelta(days=2))
    old = await book.create(
        title="Old fault", areas=["0114"], services=["phone"], now=now - timedelta(days=10)
    )
    await book.resolve(old.incident.reference, now=now - timedelta(days=8))

    snapshot = await StatusBoard(engine, book, locator).current()

    assert [i.incident.title for i in snapshot.active] == ["London power", "Leeds cable"]
    assert [i.incident.title for i in snapshot.resolved] == ["Manchester card"]
    london = snapshot.active[0]
    assert london.places == (("01322", "Dartford"), ("020", "London"))
    assert london.incident.eta is not None
    assert [i.incident.reference for i in snapshot.affecting(["0113"])] == [
        older.incident.reference
    ]
    assert snapshot.last_modified == newer.incident.updated_at


async def test_the_timeline_says_what_changed_and_never_what_staff_typed(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    now = utcnow()
    record = await book.create(
        title="Cable cut", areas=["0113"], services=["broadband"], now=now - 2 * HOUR
    )
    reference = record.incident.reference
    await book.update(
        reference,
        status="identified",
        eta=now + 3 * HOUR,
        note="Called Mrs Jones on 0113 496 0123 about her line",
        author="agent-jo",
        now=now - HOUR,
    )
    await book.update(reference, areas=["0113", "0114"], author="agent-jo", now=now)

    [incident] = (await StatusBoard(engine, book, locator).current()).active
    first, identified, spread = incident.steps
    assert first.first and first.status == IncidentStatus.INVESTIGATING and first.eta is None
    assert identified.status_changed and identified.eta_changed
    assert identified.eta == now + 3 * HOUR
    assert (spread.status_changed, spread.eta_changed) == (False, False)
    assert spread.added == (("0114", "Sheffield"),)
    public = repr(incident.steps)
    assert "Jones" not in public and "496 0123" not in public and "agent-jo" not in public


async def test_a_write_through_this_workers_book_shows_at_once(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    board = StatusBoard(engine, book, locator, check_seconds=3600)
    assert (await board.current()).active == ()

    record = await book.create(title="Cable cut", areas=["0113"], services=["broadband"])

    snapshot = await board.current()
    assert [i.incident.reference for i in snapshot.active] == [record.incident.reference]


async def test_another_workers_write_shows_at_the_next_check_and_not_before(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    other_worker = Incidents(engine, locator)
    cached = StatusBoard(engine, book, locator, check_seconds=3600)
    checking = StatusBoard(engine, book, locator, check_seconds=0)
    await cached.current()
    await checking.current()

    await other_worker.create(title="Cable cut", areas=["0113"], services=["broadband"])

    assert (await cached.current()).active == ()
    assert [i.incident.title for i in (await checking.current()).active] == ["Cable cut"]


async def test_another_workers_write_shows_even_when_its_clock_is_behind(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    now = utcnow()
    await book.create(title="Newest", areas=["020"], services=["phone"], now=now)
    older = await book.create(title="Older", areas=["0113"], services=["phone"], now=now - HOUR)
    board = StatusBoard(engine, book, locator, check_seconds=0)
    await board.current()

    lagging = Incidents(engine, locator)  # its clock is half an hour behind the others'
    await lagging.update(older.incident.reference, status="identified", now=now - HOUR / 2)

    shown = {i.incident.title: i.incident.status for i in (await board.current()).active}
    assert shown == {"Newest": "investigating", "Older": "identified"}


async def test_unchanged_incidents_keep_the_snapshot_and_what_was_rendered_from_it(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    await book.create(title="Cable cut", areas=["0113"], services=["broadband"])
    board = StatusBoard(engine, book, locator, check_seconds=0)
    first = await board.current()
    built = first.memo("page", lambda: ["rendered"])

    again = await board.current()

    assert again is first
    assert again.memo("page", lambda: ["rendered again"]) is built


async def test_an_incident_leaving_the_window_changes_the_page_and_its_last_modified(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    now = utcnow()
    record = await book.create(
        title="Fixed a week ago", areas=["0113"], services=["phone"], now=now - timedelta(days=8)
    )
    resolved_at = now - timedelta(days=7) + timedelta(minutes=5)
    await book.resolve(record.incident.reference, now=resolved_at)
    clock = [now]
    board = StatusBoard(engine, book, locator, check_seconds=0, clock=lambda: clock[0])
    before = await board.current()
    assert [i.incident.title for i in before.resolved] == ["Fixed a week ago"]

    clock[0] = now + timedelta(minutes=10)
    after = await board.current()

    assert after.resolved == ()
    assert before.last_modified is not None and after.last_modified is not None
    assert after.last_modified == resolved_at + timedelta(days=7) > before.last_modified


async def test_the_last_snapshot_is_kept_while_the_database_cannot_be_read(
    tmp_path: Path, locator: Locator
) -> None:
    url = f"sqlite:///{tmp_path / 'own.db'}"
    await migrate(url)
    engine = create_engine(url)
    book = Incidents(engine, locator)
    await book.create(title="Cable cut", areas=["0113"], services=["broadband"])
    board = StatusBoard(engine, book, locator, check_seconds=0)
    before = await board.current()
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE incident RENAME TO incident_away"))

        assert await board.current() is before
        with pytest.raises(Exception, match="incident"):
            await StatusBoard(engine, book, locator).current()
    finally:
        await engine.dispose()


async def test_every_worker_renders_the_same_bytes_for_the_same_incidents(
    engine: AsyncEngine, book: Incidents, locator: Locator
) -> None:
    await book.create(title="Cable cut", areas=["0113", "020"], services=["broadband"])
    tz = Settings().tz
    one, two = [
        await StatusBoard(engine, Incidents(engine, locator), locator).current() for _ in range(2)
    ]

    assert one is not two
    assert page.listing(one.incidents, tz) == page.listing(two.incidents, tz)
    assert page.status_page(one, tz, "") == page.status_page(two, tz, "")

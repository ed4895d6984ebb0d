from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.incidents.book import Incidents
from bot.incidents.index import query_active_for
from bot.incidents.input import IncidentError, IncidentNotFound, Locator
from bot.locations.locator import Locator as RealLocator
from bot.models import IncidentStatus
from bot.settings import Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def locator() -> Locator:
    return RealLocator.from_data(Settings().data_dir)


@pytest.fixture
def book(engine: AsyncEngine, locator: Locator) -> Incidents:
    return Incidents(engine, locator, clock=lambda: NOW)


async def test_create_gives_a_daily_reference_and_normalises_places(book: Incidents) -> None:
    first = await book.create(
        title="Cable cut", areas=["Leeds", "(0161)"], services=["broadband,phone"], now=NOW
    )
    second = await book.create(title="Power", areas=["020"], services=["tv"], now=NOW)
    assert first.incident.reference == "INC-20261125-0001"
    assert second.incident.reference == "INC-20261125-0002"
    assert first.areas == ("0113", "0161")
    assert first.incident.services == "broadband,phone"
    next_day = await book.create(
        title="X", areas=["020"], services=["phone"], now=NOW + timedelta(days=1)
    )
    assert next_day.incident.reference == "INC-20261126-0001"


async def test_concurrent_creates_get_distinct_references(book: Incidents) -> None:
    records = await asyncio.gather(
        *(book.create(title=f"T{i}", areas=["020"], services=["phone"], now=NOW) for i in range(8))
    )
    references = sorted(r.incident.reference for r in records)
    assert references == [f"INC-20261125-{n:04d}" for n in range(1, 9)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"areas": ["Atlantis"]}, "unknown area 'Atlantis'"),
        ({"areas": []}, "at least one area"),
        ({"services": ["gas"]}, "unknown service 'gas'"),
        ({"status": "resolved"}, "status must be one of"),
        ({"status": "fixed"}, "status must be one of"),
        ({"title": " "}, "title must not be empty"),
        ({"eta": NOW - timedelta(minutes=1)}, "is in the past"),
    ],
)
async def test_bad_input_is_refused_and_nothing_written(
    book: Incidents, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"title": "T", "areas": ["020"], "services": ["phone"], **kwargs}
    with pytest.raises(IncidentError, match=message):
        await book.create(**args)  # type: ignore[arg-type]
    assert await book.find() == []


async def test_lookup_finds_active_then_recently_resolved(book: Incidents) -> None:
    eta = NOW + timedelta(hours=3)
    record = await book.create(
        title="Power", areas=["020", "01322"], services=["broadband"], eta=eta, now=NOW
    )
    ref = record.incident.reference
    active = await book.index.active_for("020")
    assert [r.incident.reference for r in active] == [ref]
    assert active[0].incident.eta == eta
    assert await book.index.active_for("0161") == []
    assert await book.index.recently_resolved_for("020") == []

    await book.resolve(ref, author="alice", now=NOW + timedelta(hours=1))
    assert await book.index.active_for("020") == []
    resolved = await book.index.recently_resolved_for("020", now=NOW + timedelta(hours=2))
    assert [r.incident.reference for r in resolved] == [ref]
    assert await book.index.recently_resolved_for("020", now=NOW + timedelta(hours=26)) == []


async def test_lookup_index_matches_the_database_query(
    engine: AsyncEngine, book: Incidents
) -> None:
    for area in ("020", "020", "0113"):
        await book.create(title="T", areas=[area], services=["phone"], now=NOW)
    from_db = await query_active_for(engine, "020")
    from_index = await book.index.active_for("020")
    assert {i.reference for i in from_db} == {r.incident.reference for r in from_index}
    assert len(from_db) == 2


async def test_update_changes_fields_and_keeps_a_timeline(book: Incidents) -> None:
    record = await book.create(title="T", areas=["020"], services=["phone"], now=NOW)
    ref = record.incident.reference
    later = NOW + timedelta(minutes=30)
    eta = NOW + timedelta(hours=4)
    updated = await book.update(
        ref,
        status="identified",
        eta=eta,
        areas=["020", "Leeds"],
        cause="a power failure",
        title="Power",
        author="bob",
        now=later,
    )
    assert updated.incident.status == IncidentStatus.IDENTIFIED
    assert updated.incident.eta == eta
    assert updated.areas == ("0113", "020")
    assert updated.incident.updated_at == later
    assert [r.incident.reference for r in await book.index.active_for("0113")] == [ref]

    shrunk = await book.update(ref, areas=["0113"], now=later)
    assert shrunk.areas == ("0113",)
    assert await book.index.active_for("020") == []

    timeline = await book.timeline(ref)
    assert [u.author for u in timeline] == ["system", "bob", "system"]
    assert "status: identified" in timeline[1].note and "+0113" in timeline[1].note
    assert "-020" in timeline[2].note


async def test_reopening_a_resolved_incident_makes_it_active(book: Incidents) -> None:
    ref = (await book.create(title="T", areas=["020"], services=["phone"])).incident.reference
    await book.resolve(ref)
    reopened = await book.update(ref, status="investigating")
    assert reopened.incident.resolved_at is None
    assert len(await book.index.active_for("020")) == 1


async def test_unknown_reference(book: Incidents) -> None:
    with pytest.raises(IncidentNotFound):
        await book.update("INC-20990101-0001", status="identified")
    with pytest.raises(IncidentNotFound):
        await book.get("nope")


async def test_find_filters_by_area_and_state(book: Incidents) -> None:
    a = await book.create(title="A", areas=["020"], services=["phone"], now=NOW)
    b = await book.create(title="B", areas=["0113"], services=["phone"], now=NOW)
    await book.resolve(b.incident.reference)
    assert [r.incident.title for r in await book.find(area="Leeds")] == ["B"]
    assert [r.incident.title for r in await book.find(active=True)] == ["A"]
    assert [r.incident.title for r in await book.find(active=False)] == ["B"]
    assert len(await book.find()) == 2
    public = a.to_public()
    assert public["reference"] == a.incident.reference
    assert public["areas"] == ["020"] and public["services"] == ["phone"]
    assert public["started_at"] == NOW.isoformat() and public["active"] is True


@pytest.mark.parametrize("watched", [False, True])
async def test_other_workers_see_writes_within_the_refresh_interval(
    engine: AsyncEngine, locator: Locator, watched: bool
) -> None:
    reader = Incidents(engine, locator, refresh_seconds=0.05, clock=lambda: NOW)
    writer = Incidents(engine, locator, clock=lambda: NOW)
    assert await reader.index.active_for("020") == []
    assert await reader.index.refresh_if_changed() is False
    watcher = asyncio.create_task(reader.index.watch()) if watched else None
    try:
        await writer.create(title="T", areas=["020"], services=["phone"], now=NOW)
        for _ in range(100):
            if await reader.index.active_for("020"):
                break
            await asyncio.sleep(0.02)
        assert len(await reader.index.active_for("020")) == 1
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.models import Alert, AlertState
from bot.operations import alerts
from bot.operations.alerts import AlertClosed, Thresholds, surging
from bot.settings import Settings
from tests.operations.conftest import customer, report

NOW = datetime.now(UTC).replace(microsecond=0)
RULES = Thresholds(min_reports=5, window=timedelta(minutes=15), growth=4.0)


async def burst(engine: AsyncEngine, area: str, customers: int, prefix: str) -> None:
    for number in range(customers):
        conversation = await customer(engine, f"{prefix}-{number}")
        await report(
            engine,
            conversation,
            area,
            NOW - timedelta(minutes=10 - number % 10),
            text=f"no internet here {number}",
        )


def test_a_surge_needs_both_enough_customers_and_growth_over_its_own_rate() -> None:
    assert surging(5, 0, RULES)
    assert not surging(4, 0, RULES), "fewer than the minimum is never a surge"
    # 96 windows in a day: 96 reports a day is 1 per window; 5 is 5x that.
    assert surging(5, 96, RULES)
    assert not surging(5, 200, RULES), "a busy area's usual rate is not a surge"


async def test_a_burst_in_an_area_with_no_incident_raises_one_alert(engine: AsyncEngine) -> None:
    await burst(engine, "0161", 6, "m")
    await burst(engine, "0113", 2, "l")  # too few
    raised = await alerts.check(engine, RULES, NOW)
    assert [view.area_codes for view in raised] == [["0161"]]
    public = raised[0].to_public()
    assert public["reports"] == 6
    assert len(public["sample_messages"]) == 3
    assert all(m.startswith("no internet here") for m in public["sample_messages"])
    assert await alerts.check(engine, RULES, NOW) == [], "an open alert is not raised again"
    assert [v.area_codes for v in await alerts.open_alerts(engine)] == [["0161"]]


async def test_one_customer_writing_many_times_is_one_report(engine: AsyncEngine) -> None:
    conversation = await customer(engine, "angry")
    for minute in range(8):
        await report(engine, conversation, "0161", NOW - timedelta(minutes=minute))
    assert await alerts.check(engine, RULES, NOW) == []


async def test_an_area_that_always_reports_this_much_raises_nothing(engine: AsyncEngine) -> None:
    for number in range(40):  # 40 customers in the previous day: 0.4 per window
        conversation = await customer(engine, f"usual-{number}")
        await report(engine, conversation, "0161", NOW - timedelta(hours=2, minutes=number * 30))
    await burst(engine, "0161", 5, "m")
    assert [v.area_codes for v in await alerts.check(engine, RULES, NOW)] == [["0161"]]

    for number in range(400):  # a busy area: 4 a window
        conversation = await customer(engine, f"busy-{number}")
        await report(engine, conversation, "020", NOW - timedelta(hours=1, minutes=number * 3))
    await burst(engine, "020", 6, "b")
    assert await alerts.check(engine, RULES, NOW) == []


async def test_an_incident_covering_the_areas_clears_the_alert(engine: AsyncEngine) -> None:
    await burst(engine, "0161", 5, "m")
    await alerts.check(engine, RULES, NOW)
    incidents = Incidents(engine, Locator.from_data(Settings().data_dir))
    await incidents.create(title="Fibre cut", areas=["0161"], services=["broadband"], now=NOW)
    await alerts.check(engine, RULES, NOW)
    assert await alerts.open_alerts(engine) == []
    await burst(engine, "0161", 5, "later")
    assert await alerts.check(engine, RULES, NOW) == [], "covered areas raise nothing"


async def test_dismissing_records_who_and_when_and_snoozes_the_areas(engine: AsyncEngine) -> None:
    await burst(engine, "0161", 5, "m")
    (view,) = await alerts.check(engine, RULES, NOW)
    alert = await alerts.dismiss(engine, view.alert.id or 0, "carol", now=NOW)
    assert (alert.state, alert.dismissed_by, alert.dismissed_at) == ("dismissed", "carol", NOW)
    assert await alerts.check(engine, RULES, NOW) == [], "dismissed areas stay quiet"
    assert await alerts.check(engine, RULES, NOW + timedelta(minutes=61)) == []  # burst over
    try:
        await alerts.dismiss(engine, view.alert.id or 0, "dave")
    except AlertClosed as exc:
        assert "dismissed already" in str(exc)
    else:
        raise AssertionError("dismissing twice must be refused")
    async with AsyncSession(engine) as session:
        stored = await session.get(Alert, view.alert.id)
    assert stored is not None and stored.dismissed_by == "carol"
    assert stored.state == AlertState.DISMISSED


def test_the_webhook_payload_names_the_places() -> None:
    alert = Alert(id=7, area_codes="0161", reports=9, since=NOW)
    payload = alerts.webhook_payload(alerts.AlertView(alert, ("help",)), {"0161": "Manchester"})
    assert "9 customers" in payload["text"] and "0161 Manchester" in payload["text"]
    assert payload["alert"]["id"] == 7 and payload["alert"]["sample_messages"] == ["help"]

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.incidents.view import UNKNOWN_CAUSE, placeholder_values, services_phrase, to_public
from bot.models import Incident

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2016, 7, 20, 9, 0, tzinfo=UTC)


def incident(**fields: object) -> Incident:
    values: dict[str, object] = {
        "reference": "INC-20160720-0001",
        "title": "Power",
        "cause": "a power failure",
        "services": "broadband,phone",
        "started_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return Incident.model_validate(values)


def test_placeholder_values_phrase_times_in_the_customer_zone() -> None:
    values = placeholder_values(
        incident(eta=datetime(2016, 7, 20, 16, 45, tzinfo=UTC)),
        area_code="020",
        place="London",
        now=NOW,
        tz=LONDON,
    )
    assert values["eta"] == "by 17:45 today"
    assert values["services"] == "broadband and phone"
    assert values["resolved_at"] == ""
    assert values["place"] == "London" and values["reference"] == "INC-20160720-0001"


def test_placeholder_values_for_a_fixed_fault_without_a_cause() -> None:
    fixed = incident(cause="", resolved_at=datetime(2016, 7, 20, 8, 5, tzinfo=UTC))
    values = placeholder_values(fixed, area_code="020", place="London", now=NOW, tz=LONDON)
    assert values["resolved_at"] == "at 09:05 today"
    assert values["cause"] == UNKNOWN_CAUSE
    assert values["eta"] == ""


def test_services_phrase() -> None:
    assert services_phrase(["broadband", "phone", "tv"]) == "broadband, phone and TV"
    assert services_phrase(["tv"]) == "TV"


def test_to_public_uses_iso_times_and_lists() -> None:
    public = to_public(incident(), ["020", "01322"])
    assert public["areas"] == ["01322", "020"]
    assert public["services"] == ["broadband", "phone"]
    assert public["started_at"] == "2016-07-20T09:00:00+00:00"
    assert public["eta"] is None and public["active"] is True

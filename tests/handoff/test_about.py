"""Which incident a hand-off is about: recorded, or covering the customer's area."""

from __future__ import annotations

from bot.handoff.about import ActiveIncidents, covers, incidents_about, is_about
from bot.incidents.view import IncidentRecord
from bot.models import Incident


def record(incident_id: int, *areas: str) -> IncidentRecord:
    return IncidentRecord(
        Incident(id=incident_id, reference=f"INC-{incident_id}", title="t"), areas
    )


def test_an_incident_covers_its_codes_and_the_mixed_codes_inside_them() -> None:
    assert covers(["0161", "020"], "0161")
    assert covers(["01387"], "013873")  # Langholm lies in Dumfries's code
    assert not covers(["013873"], "01387")
    assert not covers(["0161"], "0113")
    assert not covers(["0161"], None)
    assert not covers(["0161"], "")
    assert not covers(["01"], "0161"), "no real area code is that short"


def test_a_hand_off_is_about_the_incident_it_recorded_wherever_the_customer_is() -> None:
    leeds = record(1, "0113")
    assert is_about(leeds, "0113", None)
    assert is_about(leeds, "0161", 1), "told of it, though the areas changed since"
    assert not is_about(leeds, "0161", 2)
    assert not is_about(leeds, None, None)


def test_the_recorded_incident_comes_first_then_the_rest_as_given() -> None:
    newest, middle, recorded = record(3, "0161"), record(2, "0161", "0113"), record(1, "0161")
    active = [newest, middle, recorded, record(4, "020")]
    assert incidents_about(active, "0161", 1) == [recorded, newest, middle]
    assert incidents_about(active, "0113", None) == [middle]
    assert incidents_about(active, None, None) == []


def test_the_queues_index_answers_as_the_rule_does() -> None:
    active = [
        record(5, "0161", "01387"),
        record(4, "013873"),
        record(3, "020", "0161"),
        record(2, "0113"),
    ]
    index = ActiveIncidents(active)
    for area_code in [None, "", "0161", "013873", "01387", "0113", "020", "0191"]:
        for incident_id in [None, 2, 3, 4, 5, 99]:
            expected = incidents_about(active, area_code, incident_id)
            assert index.about(area_code, incident_id) == expected, (area_code, incident_id)
            assert index.about(area_code, incident_id) == expected  # asked again: the same

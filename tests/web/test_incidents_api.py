"""``/api/incidents``: create, list, read and change incidents over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.web.conftest import Staff


def _new(**changes: Any) -> dict[str, Any]:
    eta = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    body = {
        "title": "Broadband outage in London and Leeds",
        "areas": ["020", "Leeds"],
        "services": ["broadband", "phone"],
        "status": "identified",
        "eta": eta.isoformat(),
        "cause": "a power cut at an exchange",
    }
    body.update(changes)
    return body


async def _create(staff: Staff, **changes: Any) -> dict[str, Any]:
    status, body = await staff.call("POST", "/api/incidents", as_="comms", json=_new(**changes))
    assert status == 201, body
    return body


async def test_create_returns_201_with_reference_and_author(staff: Staff) -> None:
    incident = await _create(staff)
    assert incident["reference"].startswith("INC-")
    assert incident["areas"] == ["0113", "020"]
    assert incident["services"] == ["broadband", "phone"]
    assert incident["status"] == "identified"
    assert incident["active"] is True
    assert incident["eta"] is not None
    assert [entry["author"] for entry in incident["timeline"]] == ["comms"]


async def test_list_filters_by_area_and_active(staff: Staff) -> None:
    london = await _create(staff, areas=["020"])
    leeds = await _create(staff, areas=["Leeds"], title="Leeds phone fault")
    status, _ = await staff.call(
        "PATCH", f"/api/incidents/{leeds['reference']}", json={"status": "resolved"}
    )
    assert status == 200

    _, everything = await staff.call("GET", "/api/incidents", as_="agent")
    assert {i["reference"] for i in everything["incidents"]} == {
        london["reference"],
        leeds["reference"],
    }
    _, in_leeds = await staff.call("GET", "/api/incidents?area=0113", as_="agent")
    assert [i["reference"] for i in in_leeds["incidents"]] == [leeds["reference"]]
    _, active = await staff.call("GET", "/api/incidents?active=1", as_="agent")
    assert [i["reference"] for i in active["incidents"]] == [london["reference"]]
    _, leeds_active = await staff.call("GET", "/api/incidents?area=Leeds&active=1")
    assert leeds_active == {"incidents": []}


async def test_get_has_timeline_of_every_change(staff: Staff) -> None:
    incident = await _create(staff)
    ref = incident["reference"]
    await staff.call("PATCH", f"/api/incidents/{ref}", as_="admin", json={"status": "monitoring"})
    status, body = await staff.call("GET", f"/api/incidents/{ref}", as_="agent")
    assert status == 200
    assert body["status"] == "monitoring"
    assert [(e["author"], e["status"]) for e in body["timeline"]] == [
        ("comms", "identified"),
        ("admin", "monitoring"),
    ]


async def test_patch_changes_fields_clears_eta_and_resolves(staff: Staff) -> None:
    ref = (await _create(staff))["reference"]
    status, body = await staff.call(
        "PATCH",
        f"/api/incidents/{ref}",
        as_="comms",
        json={"areas": "020,0161", "eta": None, "cause": "a cut cable", "title": "Cable cut"},
    )
    assert status == 200, body
    assert body["areas"] == ["0161", "020"]
    assert body["eta"] is None
    assert (body["cause"], body["title"]) == ("a cut cable", "Cable cut")

    status, body = await staff.call(
        "PATCH", f"/api/incidents/{ref}", as_="comms", json={"status": "resolved"}
    )
    assert status == 200
    assert body["active"] is False
    assert body["resolved_at"] is not None


async def test_get_or_patch_unknown_reference_is_404(staff: Staff) -> None:
    status, body = await staff.call("GET", "/api/incidents/INC-20200101-0001")
    assert status == 404
    assert "INC-20200101-0001" in body["error"]
    status, _ = await staff.call(
        "PATCH", "/api/incidents/INC-20200101-0001", json={"status": "monitoring"}
    )
    assert status == 404


BAD_CREATES: list[tuple[dict[str, Any], str]] = [
    ({"areas": ["Atlantis"]}, "unknown area 'Atlantis'"),
    ({"areas": []}, "at least one area"),
    ({"services": ["gas"]}, "unknown service 'gas'"),
    ({"status": "resolved"}, "status must be one of"),
    ({"status": "sleeping"}, "status must be one of"),
    ({"eta": "tomorrow-ish"}, "eta must be an ISO 8601 time"),
    ({"eta": "2020-01-01T10:00+00:00"}, "is in the past"),
    ({"title": ""}, "title must not be empty"),
    ({"title": None}, "'title' is required"),
    ({"areas": None}, "'areas' is required"),
    ({"areas": [20]}, "'areas' must be a list of strings"),
    ({"colour": "red"}, "unknown field(s) colour"),
]


async def test_create_refuses_bad_input_with_422_reason(staff: Staff) -> None:
    for changes, reason in BAD_CREATES:
        body = {k: v for k, v in _new(**changes).items() if v is not None}
        status, answer = await staff.call("POST", "/api/incidents", as_="comms", json=body)
        assert (status, answer) == (422, {"error": answer["error"]}), changes
        assert reason in answer["error"], changes
    _, listed = await staff.call("GET", "/api/incidents")
    assert listed == {"incidents": []}


async def test_patch_refuses_bad_input_with_422_reason(staff: Staff) -> None:
    ref = (await _create(staff))["reference"]
    for change, reason in [
        ({"status": "sleeping"}, "status must be one of"),
        ({"areas": ["Atlantis"]}, "unknown area"),
        ({}, "nothing to change"),
    ]:
        status, body = await staff.call("PATCH", f"/api/incidents/{ref}", json=change)
        assert (status, reason in body["error"]) == (422, True), body


async def test_bad_query_and_body_are_explained(staff: Staff) -> None:
    status, body = await staff.call("GET", "/api/incidents?active=maybe")
    assert (status, body["error"]) == (422, "'active' must be 1 or 0, got 'maybe'")
    status, body = await staff.call("GET", "/api/incidents?area=Atlantis")
    assert status == 422
    assert "unknown area" in body["error"]
    headers = {"Authorization": f"Bearer {staff.tokens['comms']}"}
    async with staff.client.post("/api/incidents", data="{not json", headers=headers) as response:
        assert response.status == 400
        assert await response.json() == {"error": "the body must be JSON"}

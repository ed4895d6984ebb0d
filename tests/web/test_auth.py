"""Tokens and roles on the staff APIs; customer routes and pages stay open."""

from __future__ import annotations

import re

from tests.web.conftest import Staff

OPEN_API = {"/api/chat", "/api/chat/updates", "/api/status"}  # the last: the status page


async def test_every_staff_api_route_needs_a_token(staff: Staff) -> None:
    checked = 0
    for route in staff.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if not path.startswith("/api/") or path in OPEN_API or route.method == "HEAD":
            continue
        status, body = await staff.call(route.method, re.sub(r"\{\w+\}", "1", path), as_=None)
        assert status == 401, (route.method, path)
        assert "Authorization" in body["error"]
        checked += 1
    assert checked >= 13


async def test_unknown_token_is_401(staff: Staff) -> None:
    staff.tokens["stranger"] = "not-a-real-token"
    status, body = await staff.call("GET", "/api/incidents", as_="stranger")
    assert status == 401
    assert body == {"error": "the API token is not valid"}


async def test_other_schemes_are_401(staff: Staff) -> None:
    headers = {"Authorization": f"Basic {staff.tokens['admin']}"}
    async with staff.client.get("/api/incidents", headers=headers) as response:
        assert response.status == 401


WRONG_ROLE = [
    ("POST", "/api/incidents", "agent"),
    ("PATCH", "/api/incidents/INC-20260101-0001", "agent"),
    ("PUT", "/api/responses/utter_greet", "agent"),
    ("POST", "/api/escalations/1/claim", "comms"),
    ("POST", "/api/conversations/1/reply", "comms"),
    ("POST", "/api/conversations/1/release", "comms"),
    ("POST", "/api/conversations/1/close", "comms"),
]


async def test_wrong_role_is_403(staff: Staff) -> None:
    for method, path, role in WRONG_ROLE:
        status, body = await staff.call(method, path, as_=role, json={"text": "x"})
        assert status == 403, (method, path)
        assert body["error"].endswith(f" role; {role} is {role}"), body
    status, body = await staff.call("POST", "/api/incidents", as_="agent", json={})
    assert body["error"] == "this needs the admin or comms role; agent is agent"


async def test_every_role_may_read(staff: Staff) -> None:
    for role in ["agent", "comms", "admin"]:
        for path in ["/api/incidents", "/api/responses", "/api/escalations", "/api/me"]:
            status, _body = await staff.call("GET", path, as_=role)
            assert status == 200, (role, path)


async def test_customer_routes_and_pages_need_no_token(staff: Staff) -> None:
    for path in ["/healthz", "/chat", "/console", "/admin", "/api/chat/updates?sender=nobody"]:
        async with staff.client.get(path) as response:
            assert response.status == 200, path

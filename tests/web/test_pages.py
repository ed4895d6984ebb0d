"""The staff consoles are served without a token and talk only to the token-checked APIs."""

from __future__ import annotations

import re

from tests.web.conftest import Staff


async def _page(staff: Staff, path: str) -> str:
    async with staff.client.get(path) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert response.headers["Cache-Control"] == "no-cache"
        return await response.text()


async def test_console_has_queue_transcript_reply_and_shortcuts(staff: Staff) -> None:
    html = await _page(staff, "/console")
    for needle in ['id="queue"', 'id="transcript"', 'id="reply"', 'id="release"', 'id="close"']:
        assert needle in html
    assert "REFRESH_MS = 3000" in html
    for key in ["j:", "k:", "Enter:", "c:", "r:", "Escape:"]:
        assert key in html
    assert '<script src="/static/staff.js">' in html


async def test_admin_has_incident_form_and_response_editor(staff: Staff) -> None:
    html = await _page(staff, "/admin")
    for needle in ['id="incident-form"', 'id="resolve"', 'id="response-keys"', "placeholders"]:
        assert needle in html


async def test_pages_call_only_api_paths_that_exist(staff: Staff) -> None:
    """Every `/api/...` path the pages build is one the route table serves."""
    async with staff.client.get("/static/staff.js") as response:
        assert response.status == 200
        script = await response.text()
    served = {
        re.sub(r"\{\w+\}", "*", route.resource.canonical)
        for route in staff.app.router.routes()
        if route.resource is not None
    }
    source = script + await _page(staff, "/console") + await _page(staff, "/admin")
    called = set(re.findall(r"[\"`](/api/[^\"`?]*)", source))
    assert len(called) >= 10
    for path in called:
        pattern = re.sub(r"\$\{[^}]*\}", "*", path)
        assert pattern in served, path


async def test_token_is_checked_by_api_me(staff: Staff) -> None:
    status, body = await staff.call("GET", "/api/me", as_="comms")
    assert (status, body) == (200, {"name": "comms", "role": "comms"})

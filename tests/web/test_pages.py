"""The staff pages: served to signed-in staff of the right role, under a strict CSP."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from bot.web.headers import CONTENT_SECURITY_POLICY
from bot.web.pages import STATIC
from tests.web.conftest import SignedIn, SignIn, Staff

PAGES = {"/console": "agent", "/admin": "comms", "/admin/users": "admin"}


async def _page(user: SignedIn, path: str) -> str:
    async with user.http.get(user.base + path, allow_redirects=False) as response:
        assert response.status == 200, path
        assert response.content_type == "text/html"
        assert response.headers["Cache-Control"] == "no-cache"
        return await response.text()


async def _static(staff: Staff, name: str) -> str:
    async with staff.client.get(f"/static/{name}") as response:
        assert response.status == 200, name
        return await response.text()


async def test_without_a_session_a_page_sends_the_browser_to_sign_in(staff: Staff) -> None:
    for path in [*PAGES, "/password"]:
        async with staff.client.get(path, allow_redirects=False) as response:
            assert response.status == 303, path
            target = urlsplit(response.headers["Location"])
            assert (target.path, parse_qs(target.query)) == ("/login", {"next": [path]})


async def test_each_page_is_for_its_roles_only(staff: Staff, sign_in: SignIn) -> None:
    allowed = {
        "agent": {"/console"},
        "comms": {"/admin"},
        "admin": {"/console", "/admin", "/admin/users"},
    }
    for name, paths in allowed.items():
        user = await sign_in(staff.base, name)
        for path in PAGES:
            async with user.http.get(staff.base + path, allow_redirects=False) as response:
                expected = 200 if path in paths else 403
                assert response.status == expected, (name, path)
                assert response.content_type == "text/html"
                if expected == 403:
                    assert f"{name} is {name}" in await response.text()


async def test_console_has_queue_transcript_reply_and_shortcuts(
    staff: Staff, sign_in: SignIn
) -> None:
    html = await _page(await sign_in(staff.base, "agent"), "/console")
    for needle in ['id="queue"', 'id="transcript"', 'id="reply"', 'id="release"', 'id="close"']:
        assert needle in html
    script = await _static(staff, "console.js")
    assert "REFRESH_MS = 3000" in script
    for key in ["j:", "k:", "Enter:", "c:", "r:", "Escape:"]:
        assert key in script
    assert '<script src="/static/staff.js">' in html


async def test_admin_has_incident_form_and_response_editor(staff: Staff, sign_in: SignIn) -> None:
    html = await _page(await sign_in(staff.base, "comms"), "/admin")
    for needle in ['id="incident-form"', 'id="resolve"', 'id="response-keys"']:
        assert needle in html
    assert "placeholders" in await _static(staff, "admin.js")


async def test_pages_call_only_api_paths_that_exist(staff: Staff) -> None:
    """Every `/api/...` path the pages' scripts build is one the route table serves."""
    served = {
        re.sub(r"\{\w+\}", "*", route.resource.canonical)
        for route in staff.app.router.routes()
        if route.resource is not None
    }
    source = "".join([await _static(staff, p.name) for p in STATIC.glob("*.js")])
    called = set(re.findall(r"[\"`](/api/[^\"`?]*)", source))
    assert len(called) >= 15
    for path in called:
        pattern = re.sub(r"\$\{[^}]*\}", "*", path)
        assert pattern in served, path


def test_no_page_has_inline_script_or_style() -> None:
    pages = sorted(STATIC.glob("*.html"))
    assert len(pages) >= 4
    for page in pages:
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page.name
        assert "<style" not in html, page.name
        assert not re.search(r"\s(style|on[a-z]+)\s*=", html), page.name


async def test_every_response_carries_the_security_headers(staff: Staff, sign_in: SignIn) -> None:
    admin = await sign_in(staff.base, "admin")
    responses = [
        await admin.http.get(staff.base + "/admin/users"),  # a page
        await admin.http.get(staff.base + "/login", allow_redirects=False),  # a redirect
        await admin.http.get(staff.base + "/api/users"),  # JSON
        await admin.http.get(staff.base + "/chat"),  # the customers' page
        await admin.http.get(staff.base + "/api/nothing-here"),  # an error
    ]
    for response in responses:
        response.release()
        headers = response.headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, response.url
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    assert [r.status for r in responses] == [200, 303, 200, 200, 404]


async def test_static_files_are_cached_and_checked_and_nothing_else_is_served(
    staff: Staff,
) -> None:
    async with staff.client.get("/static/staff.js") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-cache"
        etag = response.headers["ETag"]
    async with staff.client.get("/static/staff.js", headers={"If-None-Match": etag}) as again:
        assert again.status == 304
    for name in ["console.html", "..%2Fpages.py", "nothing.js"]:
        async with staff.client.get(f"/static/{name}") as response:
            assert response.status == 404, name


async def test_api_me_tells_a_token_user_who_they_are(staff: Staff) -> None:
    status, body = await staff.call("GET", "/api/me", as_="comms")
    assert (status, body) == (200, {"name": "comms", "role": "comms"})


async def test_a_signed_in_browser_also_gets_its_csrf_token(staff: Staff, sign_in: SignIn) -> None:
    comms = await sign_in(staff.base, "comms")
    status, body = await comms.call("GET", "/api/me")
    assert status == 200
    assert body == {
        "name": "comms",
        "role": "comms",
        "csrf_token": comms.csrf,
        "must_change_password": False,
    }
    assert len(comms.csrf) >= 40

"""Signing in at ``/login``: the cookie, CSRF, guessing limits and ending sessions."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import audit, lockout
from bot.keys import settings_key
from bot.models import Incident, SignInFailure, StaffSession
from bot.web import console_events
from bot.web.app import create_app
from bot.web.auth import COOKIE
from bot.web.sign_in import FORM_COOKIE, FORM_SECONDS, safe_next
from tests.conftest import SESSIONS_REDIS_URL
from tests.scratch import locator_for
from tests.web.conftest import (
    ClientFactory,
    SignIn,
    Staff,
    password_of,
    staff_settings,
    start_staff,
)

INCIDENT = {"title": "Cable cut", "areas": ["0161"], "services": ["broadband"]}


async def _login(staff: Staff, name: str, password: str) -> aiohttp.ClientResponse:
    response = await staff.client.post("/login", json={"username": name, "password": password})
    response.release()
    return response


def _cookie(response: aiohttp.ClientResponse) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        cookie.load(header)
    return cookie


def _hidden_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the form has no csrf_token field"
    return found.group(1)


async def _form_token(staff: Staff, path: str = "/login") -> str:
    """Open the sign-in page as a browser would (its cookie kept); the form's token."""
    async with staff.client.get(path) as page:
        assert page.status == 200
        return _hidden_token(await page.text())


async def test_the_cookie_is_http_only_same_site_and_holds_no_user_data(staff: Staff) -> None:
    response = await _login(staff, "agent", password_of("agent"))
    assert response.status == 200
    morsel = _cookie(response)[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert not morsel["secure"], "plain HTTP here: a Secure cookie would never come back"
    assert "agent" not in morsel.value and len(morsel.value) >= 40


async def test_behind_https_the_cookie_is_secure(
    staff: Staff, aiohttp_client: ClientFactory
) -> None:
    settings = replace(staff.app[settings_key], behind_https=True)
    client = await aiohttp_client(create_app(settings, locator=locator_for(settings.data_dir)))
    async with client.post(
        "/login", json={"username": "admin", "password": password_of("admin")}
    ) as response:
        assert response.status == 200
        assert _cookie(response)[COOKIE]["secure"] is True
    async with client.get("/login") as page:
        assert _cookie(page)[FORM_COOKIE]["secure"] is True


async def test_the_sign_in_form_and_a_short_lived_cookie_carry_the_same_token(
    staff: Staff,
) -> None:
    async with staff.client.get("/login") as page:
        token = _hidden_token(await page.text())
        morsel = _cookie(page)[FORM_COOKIE]
    assert morsel.value == token and len(token) == 43
    assert morsel["httponly"] is True and morsel["samesite"] == "Strict"
    assert (morsel["path"], morsel["max-age"]) == ("/login", str(FORM_SECONDS))
    assert not morsel["secure"], "plain HTTP here"
    assert await _form_token(staff) == token, "a second tab gets the same token"
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as other,
        other.get(staff.base + "/login", headers={"Cookie": f"{FORM_COOKIE}=not-ours"}) as page,
    ):
        fresh = _hidden_token(await page.text())
    assert fresh not in {token, "not-ours"}, "a cookie not of our shape is replaced"


FORGERIES = {
    "no token in the form": lambda token: {},
    "another token in the form": lambda token: {"csrf_token": token[::-1]},
    "an empty token": lambda token: {"csrf_token": ""},
}


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
async def test_a_form_without_its_token_is_refused_and_signs_no_one_in(
    staff: Staff, engine: AsyncEngine, forgery: str
) -> None:
    token = await _form_token(staff)
    form = {"username": "admin", "password": password_of("admin"), "next": "/admin/users"}
    async with staff.client.post(
        "/login", data={**form, **FORGERIES[forgery](token)}, allow_redirects=False
    ) as refused:
        html = await refused.text()
        assert refused.status == 403
        assert COOKIE not in _cookie(refused)
    assert "Your sign-in form expired, please try again." in html
    assert 'name="next" value="/admin/users"' in html
    async with staff.client.get("/api/me") as me:
        assert me.status == 401
    assert await audit.entries(engine, actor="admin") == []

    form["csrf_token"] = _hidden_token(html)
    async with staff.client.post("/login", data=form, allow_redirects=False) as again:
        assert (again.status, again.headers["Location"]) == (303, "/admin/users")


async def test_a_forged_cross_site_form_is_refused(staff: Staff, engine: AsyncEngine) -> None:
    """The attacker fetches a form and cookie of their own and posts that form's token
    from the victim's browser, which sends its SameSite=Strict cookie to no other site's
    form: no cookie, or a JSON body dressed as text/plain, is a refusal."""
    attacker_token = await _form_token(staff)
    form = {"username": "comms", "password": password_of("comms"), "csrf_token": attacker_token}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as victim:
        async with victim.post(staff.base + "/login", data=form, allow_redirects=False) as refused:
            assert refused.status == 403
            assert "expired" in await refused.text()
            assert COOKIE not in _cookie(refused)
        credentials = {"username": "comms", "password": password_of("comms")}
        async with victim.post(
            staff.base + "/login",
            data=json.dumps(credentials),
            headers={"Content-Type": "text/plain"},
            allow_redirects=False,
        ) as plain:
            assert plain.status == 403
            assert COOKIE not in _cookie(plain)
        async with victim.get(staff.base + "/api/me") as me:
            assert me.status == 401
        async with victim.post(staff.base + "/login", json=credentials) as scripted:
            assert scripted.status == 200, "JSON needs no form token"
            cookies = _cookie(scripted)
            assert cookies[COOKIE].value and cookies[FORM_COOKIE].value == "", "form's cleared"
    assert [e["action"] for e in await audit.entries(engine, actor="comms")] == ["sign_in"]


async def test_refused_forms_count_nothing_toward_the_guessing_limit(
    staff: Staff, engine: AsyncEngine
) -> None:
    await _form_token(staff)
    for _ in range(lockout.LIMIT + 1):
        form = {"username": "agent", "password": "not-the-password", "csrf_token": "forged"}
        async with staff.client.post("/login", data=form) as refused:
            assert refused.status == 403
    async with AsyncSession(engine) as session:
        assert (await session.exec(select(SignInFailure))).all() == []
    assert (await _login(staff, "agent", password_of("agent"))).status == 200


async def test_the_form_signs_in_and_goes_on_to_next_but_only_on_this_site(
    staff: Staff,
) -> None:
    async with staff.client.get("/login?next=/admin") as page:
        html = await page.text()
    assert 'name="username"' in html and 'type="password"' in html
    assert 'name="next" value="/admin"' in html
    form = {
        "username": "comms",
        "password": password_of("comms"),
        "next": "/admin",
        "csrf_token": _hidden_token(html),
    }
    async with staff.client.post("/login", data=form, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/admin"
        cookies = _cookie(response)
        assert cookies[COOKIE].value, "signed in: a session cookie"
        cleared = cookies[FORM_COOKIE]
        assert (cleared.value, cleared["max-age"], cleared["path"]) == ("", "0", "/login")
    async with staff.client.get("/admin", allow_redirects=False) as page:
        assert page.status == 200


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_next_never_leaves_the_site(target: str) -> None:
    assert safe_next(target) == "/console"


def test_next_keeps_a_local_path() -> None:
    assert safe_next("/admin?tab=responses") == "/admin?tab=responses"


async def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(staff: Staff) -> None:
    answers = []
    for name in ["agent", "no-such-user"]:
        async with staff.client.post(
            "/login", json={"username": name, "password": "wrong-password"}
        ) as response:
            answers.append((response.status, await response.json(), COOKIE in response.cookies))
    assert (
        answers[0]
        == answers[1]
        == (401, {"error": "the user name or password is not right"}, False)
    )


async def test_bad_sign_in_bodies_are_400(staff: Staff) -> None:
    for body in [{"username": "agent"}, {"username": 3, "password": "x"}, []]:
        async with staff.client.post("/login", json=body) as response:
            assert response.status == 400, body
            assert "error" in await response.json()


async def test_five_failures_for_a_name_lock_it_out_with_retry_after(staff: Staff) -> None:
    for _ in range(lockout.LIMIT):
        assert (await _login(staff, "agent", "not-the-password")).status == 401
    locked = await staff.client.post(
        "/login", json={"username": "agent", "password": password_of("agent")}
    )
    assert locked.status == 429
    assert 0 < int(locked.headers["Retry-After"]) <= lockout.WINDOW.total_seconds()
    assert "too many failed sign-ins" in (await locked.json())["error"]
    # An unknown name is limited alike, so the limit says nothing about who exists.
    for _ in range(lockout.LIMIT):
        await _login(staff, "ghost", "guess")
    assert (await _login(staff, "ghost", "guess")).status == 429


async def test_failures_from_one_address_lock_out_every_name(
    staff: Staff, engine: AsyncEngine
) -> None:
    for number in range(lockout.LIMIT):
        assert (await _login(staff, f"guess-{number}", "password")).status == 401
    async with AsyncSession(engine) as session:
        rows = (await session.exec(select(SignInFailure))).all()
    assert {row.address for row in rows} == {"127.0.0.1"}
    assert (await _login(staff, "comms", password_of("comms"))).status == 429


async def test_without_the_csrf_token_a_cookie_request_changes_nothing(
    staff: Staff, sign_in: SignIn, engine: AsyncEngine
) -> None:
    comms = await sign_in(staff.base, "comms")
    for csrf in [None, "not-the-token"]:
        status, body = await comms.call("POST", "/api/incidents", INCIDENT, csrf=csrf)
        assert status == 403
        assert "X-CSRF-Token" in body["error"]
    async with AsyncSession(engine) as session:
        assert (await session.exec(select(Incident))).all() == []

    status, body = await comms.call("POST", "/api/incidents", INCIDENT)
    assert status == 201, body
    status, _ = await staff.call("POST", "/api/incidents", as_="comms", json=INCIDENT)
    assert status == 201, "a script's bearer token needs no CSRF token"


async def test_signing_out_ends_the_session_in_every_tab(staff: Staff, sign_in: SignIn) -> None:
    agent = await sign_in(staff.base, "agent")
    assert (await agent.call("GET", "/api/escalations"))[0] == 200
    assert (await agent.call("POST", "/logout", csrf=None))[0] == 403, "needs the CSRF token"
    assert (await agent.call("POST", "/logout"))[0] == 200
    status, body = await agent.call("GET", "/api/escalations")
    assert status == 401
    assert "sign in" in body["error"]


async def test_a_disabled_user_is_out_at_once(staff: Staff, sign_in: SignIn) -> None:
    agent = await sign_in(staff.base, "agent")
    admin = await sign_in(staff.base, "admin")
    assert (await agent.call("GET", "/api/escalations"))[0] == 200

    status, body = await admin.call("PATCH", "/api/users/agent", {"disabled": True})

    assert status == 200 and body["user"]["disabled"] is True
    assert (await agent.call("GET", "/api/escalations"))[0] == 401
    assert (await staff.call("GET", "/api/escalations", as_="agent"))[0] == 401
    assert (await _login(staff, "agent", password_of("agent"))).status == 401


async def test_a_reset_password_must_be_changed_before_anything_else(
    staff: Staff, sign_in: SignIn
) -> None:
    admin = await sign_in(staff.base, "admin")
    status, body = await admin.call("POST", "/api/users/comms/password")
    assert status == 200
    temporary = body["password"]

    comms = await sign_in(staff.base, "comms", temporary)
    assert comms.me["must_change_password"] is True
    assert (await comms.call("GET", "/api/incidents"))[0] == 403
    async with comms.http.get(staff.base + "/admin", allow_redirects=False) as page:
        assert page.status == 303 and page.headers["Location"].startswith("/password?")
    status, body = await comms.call("POST", "/password", {"current": temporary, "new": "short"})
    assert status == 422 and "at least 12" in body["error"]
    status, body = await comms.call(
        "POST", "/password", {"current": temporary, "new": "a much better password"}
    )
    assert status == 200 and body["must_change_password"] is False
    comms.me = body
    assert (await comms.call("GET", "/api/incidents"))[0] == 200
    assert (await _login(staff, "comms", "a much better password")).status == 200


async def test_sign_ins_and_changes_are_in_the_audit_trail(
    staff: Staff, sign_in: SignIn, engine: AsyncEngine
) -> None:
    admin = await sign_in(staff.base, "admin")
    await admin.call("POST", "/api/users", {"name": "newbie", "role": "agent"})
    await admin.call("PATCH", "/api/users/newbie", {"role": "comms"})
    status, body = await admin.call("GET", "/api/audit")
    assert status == 200
    seen = [(e["actor"], e["action"], e["target"]) for e in reversed(body["entries"])]
    assert seen == [
        ("admin", "sign_in", ""),
        ("admin", "user_added", "newbie"),
        ("admin", "user_changed", "newbie"),
    ]
    assert (await staff.call("GET", "/api/audit", as_="comms"))[0] == 403
    assert [e["action"] for e in await audit.entries(engine, actor="newbie")] == []


async def test_admins_manage_users_and_tokens(staff: Staff, sign_in: SignIn) -> None:
    admin = await sign_in(staff.base, "admin")
    status, body = await admin.call("POST", "/api/users", {"name": "sam", "role": "agent"})
    assert status == 201
    password, token = body["password"], body["token"]
    assert (await _login(staff, "sam", password)).status == 200
    status, listed = await admin.call("GET", "/api/users")
    sam = next(u for u in listed["users"] if u["name"] == "sam")
    assert sam["role"] == "agent" and sam["last_sign_in_at"] is not None

    status, tokens = await admin.call("GET", "/api/tokens")
    mine = [t for t in tokens["tokens"] if t["user"] == "sam"]
    assert len(mine) == 1 and mine[0]["state"] == "active" and mine[0]["expires_at"]
    assert token not in str(tokens)
    assert (await admin.call("DELETE", f"/api/tokens/{mine[0]['id']}"))[0] == 200
    async with staff.client.get(
        "/api/me", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 401

    assert (await admin.call("POST", "/api/users", {"name": "sam", "role": "agent"}))[0] == 422
    assert (await admin.call("PATCH", "/api/users/admin", {"disabled": True}))[0] == 422
    assert (await admin.call("PATCH", "/api/users/nobody", {"role": "agent"}))[0] == 404
    assert (await staff.call("GET", "/api/users", as_="agent"))[0] == 403


async def test_anyone_may_make_and_revoke_their_own_tokens_only(
    staff: Staff, sign_in: SignIn
) -> None:
    agent = await sign_in(staff.base, "agent")
    status, body = await agent.call("POST", "/api/tokens", {"days": 7})
    assert status == 201 and body["user"] == "agent"
    async with staff.client.get(
        "/api/me", headers={"Authorization": f"Bearer {body['token']}"}
    ) as response:
        assert (await response.json())["name"] == "agent"
    _, others = await staff.call("GET", "/api/tokens", as_="admin")
    theirs = next(t for t in others["tokens"] if t["user"] == "comms")
    assert (await agent.call("DELETE", f"/api/tokens/{theirs['id']}"))[0] == 404
    assert (await agent.call("POST", "/api/tokens", {"days": 5000}))[0] == 422
    _, listed = await agent.call("GET", "/api/tokens")
    assert {t["user"] for t in listed["tokens"]} == {"agent"}


async def test_the_console_socket_knows_a_signed_in_browser_by_its_cookie(
    staff: Staff, sign_in: SignIn
) -> None:
    agent = await sign_in(staff.base, "agent")
    url = staff.base.replace("http", "ws") + "/console/events"
    async with agent.http.ws_connect(url, origin=staff.base) as socket:
        assert await socket.receive_json(timeout=5) == {"type": "ready", "user": "agent"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await agent.http.ws_connect(url, origin="https://evil.example")
    assert refused.value.status == 403


async def test_after_a_reset_the_form_leads_through_a_new_password_to_next(
    staff: Staff, sign_in: SignIn
) -> None:
    admin = await sign_in(staff.base, "admin")
    temporary = (await admin.call("POST", "/api/users/agent/password"))[1]["password"]
    form = {
        "username": "agent",
        "password": temporary,
        "next": "/console",
        "csrf_token": await _form_token(staff),
    }
    async with staff.client.post("/login", data=form, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/password?next=%2Fconsole"
    async with staff.client.get("/password?next=/console") as page:
        html = await page.text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert csrf is not None and "was reset" in html
    change = {"current": temporary, "new": "agent's own passphrase", "next": "/console"}
    async with staff.client.post("/password", data={**change, "again": "typo"}) as mismatch:
        assert mismatch.status == 403, "no CSRF token in the form"
    change["csrf_token"] = csrf.group(1)
    async with staff.client.post("/password", data={**change, "again": "typo"}) as mismatch:
        assert mismatch.status == 422 and "differ" in await mismatch.text()
    async with staff.client.post(
        "/password", data={**change, "again": change["new"]}, allow_redirects=False
    ) as done:
        assert done.status == 303 and done.headers["Location"] == "/console"
    async with staff.client.get("/console", allow_redirects=False) as page:
        assert page.status == 200


async def test_an_open_console_socket_closes_when_its_session_ends(
    staff: Staff, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_events, "RECHECK_SECONDS", 0.2)
    agent = await sign_in(staff.base, "agent")
    url = staff.base.replace("http", "ws") + "/console/events"
    async with agent.http.ws_connect(url, origin=staff.base) as socket:
        assert (await socket.receive_json(timeout=5))["type"] == "ready"
        assert (await agent.call("POST", "/logout"))[0] == 200
        refused = await socket.receive_json(timeout=5)
        closing = await socket.receive(timeout=5)
    assert refused == {"type": "error", "error": "signed out"}
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 4401)


async def _where_sessions_are(engine: AsyncEngine, redis: Redis) -> tuple[int, int]:
    """How many sessions the table holds, and how many Redis does."""
    async with AsyncSession(engine) as session:
        rows = len((await session.exec(select(StaffSession))).all())
    keys = [key async for key in redis.scan_iter(match="outage-bot:staff-session:*")]
    return rows, len(keys)


@pytest.mark.parametrize("in_redis", [False, True], ids=["database", "redis"])
async def test_sessions_in_redis_sign_in_and_out_as_those_in_the_database(
    in_redis: bool,
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    sign_in: SignIn,
    sessions_redis: Redis,
) -> None:
    changes = {"redis_url": SESSIONS_REDIS_URL} if in_redis else {}
    settings = staff_settings(database_url, tmp_path, **changes)
    staff = await start_staff(engine, settings, aiohttp_client)
    agent = await sign_in(staff.base, "agent")
    admin = await sign_in(staff.base, "admin")
    assert await _where_sessions_are(engine, sessions_redis) == ((0, 2) if in_redis else (2, 0))
    assert (await agent.call("GET", "/api/me"))[1]["name"] == "agent"

    assert (await agent.call("POST", "/logout"))[0] == 200
    assert (await agent.call("GET", "/api/me"))[0] == 401
    agent = await sign_in(staff.base, "agent")
    async with agent.http.get(staff.base + "/console", allow_redirects=False) as page:
        assert page.status == 200

    status, _ = await admin.call("PATCH", "/api/users/agent", {"disabled": True})

    assert status == 200
    assert await _where_sessions_are(engine, sessions_redis) == ((0, 1) if in_redis else (1, 0))
    status, body = await agent.call("GET", "/api/escalations")
    assert status == 401 and "your session has ended" in body["error"]
    async with agent.http.get(staff.base + "/console", allow_redirects=False) as page:
        assert page.status == 303 and page.headers["Location"] == "/login?next=/console"
    assert (await admin.call("GET", "/api/me"))[0] == 200

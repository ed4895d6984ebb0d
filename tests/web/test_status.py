"""The public status page over HTTP, from the app's own factory: pages, search, permalinks,
JSON, Atom, conditional requests, and the link the bot's answers carry."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import feedparser
import pytest
from aiohttp import ClientResponse

from bot.keys import incidents_key, settings_key
from bot.models import utcnow
from bot.status.page import local_time
from tests.conftest import LiveApp, add_outage
from tests.web.conftest import Staff


async def get(staff: Staff, path: str, **headers: str) -> tuple[ClientResponse, str]:
    async with staff.client.get(path, headers=headers) as response:
        return response, await response.text()


async def test_the_page_lists_a_seeded_incident_with_its_area_codes_and_fix_time(
    staff: Staff,
) -> None:
    reference = await add_outage(staff.app, ["0113", "020"])
    incident = (await staff.app[incidents_key].get(reference)).incident
    assert incident.eta is not None

    response, html = await get(staff, "/status")

    assert response.status == 200 and response.content_type == "text/html"
    assert f'id="{reference}"' in html
    assert '<span class="code">0113</span> Leeds' in html
    assert '<span class="code">020</span> London' in html
    assert local_time(incident.eta, staff.app[settings_key].tz) in html
    assert "a power failure at a partner&#x27;s site" in html
    assert "1 known problem right now." in html
    assert response.headers["Cache-Control"] == "public, max-age=10"
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Last-Modified"] == format_datetime(incident.updated_at, True)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # 'none', default


@pytest.mark.parametrize(
    "query", ["0113", "0113 496 0000", "+44 113 496 0000", "Leeds", "LS1 4AP"]
)
async def test_search_by_code_number_town_and_postcode(staff: Staff, query: str) -> None:
    reference = await add_outage(staff.app, ["0113"])

    response, html = await get(staff, f"/status?q={query.replace('+', '%2B')}")

    assert response.status == 200
    assert '<p class="verdict">Problem known in 0113 (Leeds):</p>' in html
    assert f'<a href="#{reference}">Broadband and phone outage</a>' in html
    assert response.headers["Cache-Control"] == "no-store"  # what people type stays theirs


async def test_an_area_without_a_problem_is_told_so(staff: Staff) -> None:
    await add_outage(staff.app, ["0113"])

    _, html = await get(staff, "/status?q=Manchester")
    _, empty = await get(staff, "/status/area/0161")

    assert '<p class="verdict">No known problem in 0161 (Manchester).</p>' in html
    assert '<p class="verdict">No known problem in 0161 (Manchester).</p>' in empty
    assert "Broadband and phone outage" not in empty


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("x" * 5000, "longer than any area code"),
        ("atlantis", "couldn't tell which area"),
        ("%00%ff%fe", "couldn't tell which area"),
        ("07700 900123", "Mobile numbers don't belong to an area"),
        ("%22%3E%3Cscript%3Ealert(1)%3C/script%3E", "couldn't tell which area"),
    ],
)
async def test_bad_or_huge_searches_get_a_polite_answer(
    staff: Staff, query: str, says: str
) -> None:
    response, html = await get(staff, f"/status?q={query}")

    assert response.status == 200
    assert says in html
    assert "<script>alert" not in html


async def test_an_areas_permalink_and_a_404_page_for_an_unknown_code(staff: Staff) -> None:
    reference = await add_outage(staff.app, ["0113"])

    found, html = await get(staff, "/status/area/0113")
    unknown, missing = await get(staff, "/status/area/0999")
    garbage, _ = await get(staff, "/status/area/%3Cb%3E")

    assert found.status == 200
    assert "<h1>Service status for 0113 (Leeds)</h1>" in html
    assert f'id="{reference}"' in html
    assert found.headers["ETag"]
    assert (unknown.status, unknown.content_type) == (404, "text/html")
    assert "We don't know the area code “0999”" in missing
    assert garbage.status == 404


async def test_json_has_each_incident_with_its_codes_and_iso_fix_time(staff: Staff) -> None:
    reference = await add_outage(staff.app, ["0113", "020"])
    incident = (await staff.app[incidents_key].get(reference)).incident
    assert incident.eta is not None

    async with staff.client.get("/api/status") as response:
        assert response.status == 200 and response.content_type == "application/json"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        body: dict[str, Any] = await response.json()

    [entry] = body["incidents"]
    assert entry["reference"] == reference
    assert entry["title"] == "Broadband and phone outage"
    assert entry["status"] == "investigating"
    assert entry["services"] == ["broadband", "phone"]
    assert entry["areas"] == ["0113", "020"]
    assert entry["places"] == {"0113": "Leeds", "020": "London"}
    assert entry["eta"] == incident.eta.isoformat()
    assert entry["updated_at"] == incident.updated_at.isoformat()
    assert body["updated"] == incident.updated_at.isoformat()


async def test_the_atom_feed_parses_with_an_entry_per_incident(staff: Staff) -> None:
    first = await add_outage(staff.app, ["0113"])
    second = await add_outage(staff.app, ["020"], eta_hours=None)
    base = staff.app[settings_key].public_base_url

    response, text = await get(staff, "/status/feed.atom")
    feed = feedparser.parse(text)

    assert response.content_type == "application/atom+xml"
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert [entry.id for entry in feed.entries] == [
        f"{base}/status#{second}",
        f"{base}/status#{first}",
    ]
    assert all(entry.link == entry.id and entry.updated_parsed for entry in feed.entries)


@pytest.mark.parametrize(
    "path", ["/status", "/status/area/0113", "/api/status", "/status/feed.atom"]
)
async def test_a_current_copy_gets_304(staff: Staff, path: str) -> None:
    await add_outage(staff.app, ["0113"])
    response, _ = await get(staff, path)
    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]

    same, body = await get(staff, path, **{"If-None-Match": etag})
    other, _ = await get(staff, path, **{"If-None-Match": '"something-else"'})
    unchanged, _ = await get(staff, path, **{"If-Modified-Since": modified})
    an_hour_ago = format_datetime(utcnow() - timedelta(hours=1), True)
    stale, _ = await get(staff, path, **{"If-Modified-Since": an_hour_ago})

    assert (same.status, body) == (304, "")
    assert same.headers["ETag"] == etag
    assert same.headers["Cache-Control"] == "public, max-age=10"
    assert other.status == 200
    assert unchanged.status == 304
    assert stale.status == 200


async def test_gzip_is_sent_to_clients_that_take_it_under_its_own_etag(staff: Staff) -> None:
    await add_outage(staff.app, ["0113"])

    packed, html = await get(staff, "/status", **{"Accept-Encoding": "gzip"})
    plain, same = await get(staff, "/status", **{"Accept-Encoding": "identity"})

    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert html == same
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert packed.headers["Vary"] == "Accept-Encoding"


async def test_an_incident_change_shows_at_once(staff: Staff) -> None:
    reference = await add_outage(staff.app, ["0113"])
    before, html = await get(staff, "/status")
    assert "Investigating" in html and "Cause identified" not in html

    status, _ = await staff.call(
        "PATCH", f"/api/incidents/{reference}", as_="comms", json={"status": "identified"}
    )
    assert status == 200
    after, changed = await get(staff, "/status", **{"If-None-Match": before.headers["ETag"]})

    assert after.status == 200
    assert '<span class="badge identified">Cause identified</span>' in changed
    status, _ = await staff.call(
        "PATCH", f"/api/incidents/{reference}", as_="comms", json={"status": "resolved"}
    )
    _, fixed = await get(staff, "/status?q=0113")
    assert '<p class="verdict">No known problem in 0113 (Leeds).</p>' in fixed


async def test_no_customer_or_staff_text_reaches_the_public(staff: Staff) -> None:
    reference = await add_outage(staff.app, ["0113"])
    status, _ = await staff.call(
        "PATCH",
        f"/api/incidents/{reference}",
        as_="comms",
        json={"status": "identified", "note": "Rang Mrs Jones back on 0113 496 0321"},
    )
    assert status == 200

    for path in ["/status", "/status/area/0113", "/api/status", "/status/feed.atom"]:
        _, text = await get(staff, path)
        assert reference in text
        for private in ("Jones", "496 0321", "comms", "test"):
            assert private not in text, (path, private)


@pytest.mark.parametrize(
    ("path", "kind", "part"),
    [
        ("/static/status.css", "text/css", ".answer.problem"),
        ("/static/status-icon.svg", "image/svg+xml", "<svg"),
    ],
)
async def test_the_style_sheet_and_icon_are_served(
    staff: Staff, path: str, kind: str, part: str
) -> None:
    response, text = await get(staff, path)

    assert (response.status, response.content_type) == (200, kind)
    assert part in text
    assert response.headers["Cache-Control"] == "public, max-age=300"


async def test_the_bots_outage_answer_links_to_the_areas_status_page(live_app: LiveApp) -> None:
    reference = await add_outage(live_app.app, ["0113"])
    base = live_app.app[settings_key].public_base_url

    body = await live_app.chat("status-link", "is broadband down in 0113?")

    link = f"{base}/status/area/0113"
    assert any(link in reply["text"] for reply in body["replies"]), body["replies"]
    async with live_app.client.get(live_app.url + link.removeprefix(base)) as page:
        assert page.status == 200
        assert reference in await page.text()

"""The status page's HTML: escaped, script- and style-free, absolute local times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.incidents.view import IncidentRecord
from bot.models import Incident
from bot.status import page
from bot.status.board import PublicIncident, Snapshot, Step
from bot.status.search import Answer, Outcome

LONDON = ZoneInfo("Europe/London")
STARTED = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
ETA = datetime(2026, 7, 20, 17, 0, tzinfo=UTC)


def incident(
    title: str = "Outage <b>now</b>", cause: str = "a power cut & a flood"
) -> PublicIncident:
    row = Incident(
        id=1,
        reference="INC-20260720-0001",
        title=title,
        cause=cause,
        services="broadband,phone",
        status="identified",
        started_at=STARTED,
        updated_at=STARTED,
        eta=ETA,
    )
    steps = (
        Step(at=STARTED, status="investigating", eta=None, first=True),
        Step(
            at=STARTED,
            status="identified",
            eta=ETA,
            status_changed=True,
            eta_changed=True,
            added=(("0114", "Sheffield"),),
        ),
    )
    return PublicIncident(
        IncidentRecord(row, ("0113", "0114")), (("0113", "Leeds"), ("0114", "Sheffield")), steps
    )


def snapshot(*incidents: PublicIncident) -> Snapshot:
    return Snapshot(signature=(), incidents=incidents, last_modified=STARTED)


def test_local_time_is_absolute_in_the_services_zone() -> None:
    assert page.local_time(ETA, LONDON) == "Mon 20 Jul 2026, 18:00 BST"
    winter = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)
    assert page.local_time(winter, LONDON) == "Fri 4 Dec 2026, 18:30 GMT"


def test_the_page_shows_an_incident_with_areas_fix_time_and_timeline_escaped() -> None:
    shown = snapshot(incident())
    html = page.status_page(shown, LONDON, page.listing(shown.incidents, LONDON))

    assert "Outage &lt;b&gt;now&lt;/b&gt;" in html and "<b>now" not in html
    assert "a power cut &amp; a flood" in html
    assert '<a href="/status/area/0113"><span class="code">0113</span> Leeds</a>' in html
    assert '<time datetime="2026-07-20T17:00:00+00:00">Mon 20 Jul 2026, 18:00 BST</time>' in html
    assert "Cause identified. Estimated fix Mon 20 Jul 2026, 18:00 BST. " in html
    assert "Now also affects 0114 (Sheffield)." in html
    assert "1 known problem right now." in html


def test_pages_have_landmarks_headings_and_nothing_inline() -> None:
    shown = snapshot(incident())
    answer = Answer(Outcome.PROBLEM, "0113", "Leeds", shown.incidents)
    pages = [
        page.status_page(shown, LONDON, page.listing(shown.incidents, LONDON), "0113", answer),
        page.area_page(shown, LONDON, answer),
        page.not_found_page("0999", LONDON),
    ]
    for html in pages:
        for landmark in ('<header class="banner">', '<main id="main"', "<footer", 'role="search"'):
            assert landmark in html
        assert len(re.findall(r"<h1[ >]", html)) == 1
        assert '<html lang="en-GB">' in html
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", html, re.IGNORECASE)


def test_the_answer_names_the_area_and_echoes_the_search_escaped() -> None:
    shown = snapshot(incident())
    listing = page.listing(shown.incidents, LONDON)
    problem = Answer(Outcome.PROBLEM, "0113", "Leeds", shown.incidents)
    clear = Answer(Outcome.NO_PROBLEM, "0161", "Manchester")

    found = page.status_page(shown, LONDON, listing, '"><img src=x>', problem)
    nothing = page.status_page(shown, LONDON, listing, "0161", clear)

    assert '<p class="verdict">Problem known in 0113 (Leeds):</p>' in found
    assert 'value="&quot;&gt;&lt;img src=x&gt;"' in found and "<img" not in found
    assert '<a href="/status/area/0113">Page for 0113 (Leeds)</a>' in found
    assert '<p class="verdict">No known problem in 0161 (Manchester).</p>' in nothing

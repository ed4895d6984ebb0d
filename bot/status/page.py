"""The status page as HTML: plain, server-rendered, readable on a phone without JavaScript.

The pages carry no script and no inline style (they are served under a Content Security
Policy without ``'unsafe-inline'``); the look is ``bot/web/static/status.css``. Every value
from the database or the request goes through :func:`html.escape`. Times are absolute
("Fri 4 Dec 2026, 18:00 GMT", in the service's zone), never "today" or "in an hour", so a
page stays true for as long as a cache keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from bot.incidents.view import services_phrase, split_services
from bot.models import IncidentStatus
from bot.responses.links import STATUS_PATH, status_path
from bot.status.board import PublicIncident, Snapshot, Step
from bot.status.search import MAX_QUERY, Answer, Outcome

STYLESHEET = "/static/status.css"
ICON = "/static/status-icon.svg"
FEED_PATH = f"{STATUS_PATH}/feed.atom"
JSON_PATH = "/api/status"
CHAT_PATH = "/chat"

#: Area lists longer than this start folded, so one big incident does not bury the rest.
AREAS_OPEN = 12

STATUS_LABELS: dict[str, str] = {
    IncidentStatus.INVESTIGATING: "Investigating",
    IncidentStatus.IDENTIFIED: "Cause identified",
    IncidentStatus.MONITORING: "Fix in place, monitoring",
    IncidentStatus.RESOLVED: "Resolved",
}

_EXAMPLES = "an area code (0113), a phone number, a town (Leeds) or a postcode (LS1 4AP)"


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """Say ``moment`` in ``tz`` as people read it: "Fri 4 Dec 2026, 18:00 GMT"."""
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M %Z}"


def status_label(status: str) -> str:
    """The words for an incident status ("Cause identified" for ``identified``)."""
    return STATUS_LABELS.get(status, status.capitalize())


def _time(moment: datetime, tz: ZoneInfo) -> str:
    return f'<time datetime="{moment.isoformat()}">{escape(local_time(moment, tz))}</time>'


def _area(code: str, place: str) -> str:
    return f"{escape(code)} ({escape(place)})"


# ----- whole pages ------------------------------------------------------------------


def status_page(
    snapshot: Snapshot, tz: ZoneInfo, listing: str, query: str = "", answer: Answer | None = None
) -> str:
    """The status page: the search, its answer if any, and every incident (``listing``)."""
    count = len(snapshot.active)
    summary = (
        f"{count} known problem{'s' if count != 1 else ''} right now."
        if count
        else "No known problems right now."
    )
    updated = (
        f" Last updated {_time(snapshot.last_modified, tz)}."
        if snapshot.last_modified is not None
        else ""
    )
    main = (
        "<h1>Service status</h1>\n"
        f'<p class="summary">{summary}{updated}</p>\n'
        + search_form(query)
        + (answer_section(answer, tz, permalink=True) if answer is not None else "")
        + listing
    )
    return document("Service status", main, tz)


def area_page(snapshot: Snapshot, tz: ZoneInfo, answer: Answer) -> str:
    """An area's permalink: the answer for it and only the incidents that affect it."""
    area = _area(answer.area_code, answer.place)
    affecting = [*answer.active, *answer.fixed]
    main = (
        f"<h1>Service status for {area}</h1>\n"
        + answer_section(answer, tz, permalink=False)
        + listing(affecting, tz)
        + f'<p class="more"><a href="{STATUS_PATH}">All areas</a></p>\n'
        + search_form("")
    )
    return document(f"{answer.area_code} {answer.place}: service status", main, tz)


def not_found_page(code: str, tz: ZoneInfo) -> str:
    """The page for an area code we do not know (served with status 404)."""
    shown = escape(code[:12])
    main = (
        "<h1>Area code not found</h1>\n"
        f'<p class="summary">We don\'t know the area code “{shown}”. '
        "Check it, or search for your town or postcode.</p>\n"
        + search_form("")
        + f'<p class="more"><a href="{STATUS_PATH}">All current problems</a></p>\n'
    )
    return document("Area code not found: service status", main, tz)


def document(title: str, main: str, tz: ZoneInfo) -> str:
    """Wrap ``main`` in the page shell: banner, landmarks, footer with the feeds."""
    return f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{STYLESHEET}">
<link rel="icon" href="{ICON}" type="image/svg+xml">
<link rel="alternate" type="application/atom+xml" title="Service status" href="{FEED_PATH}">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="banner"><div class="wrap">
<a class="brand" href="{STATUS_PATH}">Broadband &amp; phone status</a>
</div></header>
<main id="main" class="wrap">
{main}</main>
<footer class="site"><div class="wrap">
<p>Times are {escape(str(tz.key))} time. This page changes as soon as our engineers post
news: reload it to check again.</p>
<p>Follow it in a feed reader (<a href="{FEED_PATH}">Atom feed</a>) or from your own
systems (<a href="{JSON_PATH}">JSON</a>).</p>
<p>Still stuck? <a href="{CHAT_PATH}">Ask our assistant</a>.</p>
</div></footer>
</body>
</html>
"""


# ----- parts --------------------------------------------------------------------------


def search_form(query: str) -> str:
    """The search box; a plain GET form, so it works without JavaScript."""
    return f"""<form class="search" role="search" action="{STATUS_PATH}" method="get">
<label for="q">Check your area</label>
<p class="hint" id="q-hint">Type {_EXAMPLES}.</p>
<div class="field">
<input id="q" name="q" type="search" value="{escape(query[:MAX_QUERY])}" maxlength="{MAX_QUERY}"
 aria-describedby="q-hint" autocomplete="off" spellcheck="false" enterkeyhint="search">
<button type="submit">Check</button>
</div>
</form>
"""


def answer_section(answer: Answer, tz: ZoneInfo, *, permalink: bool) -> str:
    """What a search found, first thing under the search box.

    Args:
        answer: the search's answer.
        tz: the zone times are shown in.
        permalink: offer the link to the area's own page (not on that page itself).
    """
    area = _area(answer.area_code, answer.place)
    kind = "problem" if answer.outcome is Outcome.PROBLEM else "other"
    parts: list[str] = []
    if answer.outcome is Outcome.PROBLEM:
        parts.append(f'<p class="verdict">Problem known in {area}:</p>')
        parts.append(
            '<ul class="found">' + "".join(_found(i, tz) for i in answer.active) + "</ul>"
        )
    elif answer.outcome is Outcome.NO_PROBLEM:
        kind = "clear"
        parts.append(f'<p class="verdict">No known problem in {area}.</p>')
        for fixed in answer.fixed:
            when = _time(fixed.incident.resolved_at or fixed.incident.updated_at, tz)
            parts.append(f"<p>Fixed recently: {_link(fixed)}, {when}.</p>")
        parts.append(
            "<p>If your service isn't working, switch your router off at the wall, wait 30 "
            f'seconds and switch it on again. Still stuck? <a href="{CHAT_PATH}">Ask our '
            "assistant</a>.</p>"
        )
    elif answer.outcome is Outcome.MOBILE:
        parts.append(
            '<p class="verdict">Mobile numbers don\'t belong to an area.</p>'
            "<p>Try your landline's area code, your town or your postcode.</p>"
        )
    elif answer.outcome is Outcome.TOO_LONG:
        parts.append(
            '<p class="verdict">That is longer than any area code, number, town or '
            f"postcode.</p><p>Please type {_EXAMPLES}.</p>"
        )
    else:
        parts.append(
            '<p class="verdict">Sorry, we couldn\'t tell which area that is.</p>'
            f"<p>Please type {_EXAMPLES}.</p>"
        )
    if permalink and answer.area_code:
        parts.append(
            f'<p><a href="{escape(status_path(answer.area_code))}">Page for {area}</a>: '
            "bookmark it to check again.</p>"
        )
    body = "\n".join(parts)
    return (
        f'<section class="answer {kind}" aria-labelledby="answer-title">\n'
        f'<h2 id="answer-title">Your area</h2>\n{body}\n</section>\n'
    )


def _found(incident: PublicIncident, tz: ZoneInfo) -> str:
    row = incident.incident
    eta = f"estimated fix {_time(row.eta, tz)}" if row.eta else "no repair time yet"
    return f"<li>{_link(incident)}: {escape(status_label(row.status))}, {eta}.</li>"


def _link(incident: PublicIncident) -> str:
    row = incident.incident
    return f'<a href="#{escape(row.reference)}">{escape(row.title)}</a>'


def listing(incidents: Sequence[PublicIncident], tz: ZoneInfo) -> str:
    """The open incidents, then those fixed within the window, each in full."""
    active = [i for i in incidents if i.active]
    fixed = [i for i in incidents if not i.active]
    return _section(
        "active", "Current problems", active, tz, "No known problems right now."
    ) + _section("fixed", "Fixed in the last 7 days", fixed, tz, "Nothing in the last 7 days.")


def _section(
    name: str, title: str, incidents: Sequence[PublicIncident], tz: ZoneInfo, empty: str
) -> str:
    body = "".join(incident_article(i, tz) for i in incidents) or f'<p class="none">{empty}</p>\n'
    count = f' <span class="count">({len(incidents)})</span>' if incidents else ""
    return (
        f'<section class="incidents {name}" aria-labelledby="{name}-title">\n'
        f'<h2 id="{name}-title">{title}{count}</h2>\n{body}</section>\n'
    )


def incident_article(incident: PublicIncident, tz: ZoneInfo) -> str:
    """One incident: what, where, when it will be fixed, and its history."""
    row = incident.incident
    ref = escape(row.reference)
    if incident.active:
        fix = ("Estimated fix", _time(row.eta, tz) if row.eta else "Not known yet")
    else:
        fix = ("Fixed", _time(row.resolved_at or row.updated_at, tz))
    status = escape(row.status)
    facts = [
        ("Status", f'<span class="badge {status}">{escape(status_label(row.status))}</span>'),
        ("Affects", escape(services_phrase(split_services(row.services)).capitalize())),
        ("Cause", escape(row.cause) if row.cause else "Not known yet"),
        fix,
        ("Last updated", _time(row.updated_at, tz)),
        ("Reference", ref),
    ]
    dl = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    return (
        f'<article class="incident {status}" id="{ref}" aria-labelledby="{ref}-title">\n'
        f'<h3 id="{ref}-title">{escape(row.title)}</h3>\n'
        f'<dl class="facts">{dl}</dl>\n'
        f"{_areas(incident)}{_history(incident, tz)}</article>\n"
    )


def _areas(incident: PublicIncident) -> str:
    items = "".join(
        f'<li><a href="{escape(status_path(code))}"><span class="code">{escape(code)}</span> '
        f"{escape(place)}</a></li>"
        for code, place in incident.places
    )
    folded = "" if len(incident.places) > AREAS_OPEN else " open"
    return (
        f'<details class="areas"{folded}><summary>Areas affected '
        f'({len(incident.places)})</summary><ul class="codes">{items}</ul></details>\n'
    )


def _history(incident: PublicIncident, tz: ZoneInfo) -> str:
    items = [
        f"<li>{_time(step.at, tz)} {escape(_step_words(step, tz))}</li>"
        for step in reversed(incident.steps)
    ]
    if incident.earlier:
        items.append(f'<li class="earlier">{incident.earlier} earlier updates not shown.</li>')
    total = len(incident.steps) + incident.earlier
    return (
        f'<details class="history"><summary>Update history ({total})</summary>'
        f'<ol class="timeline">{"".join(items)}</ol></details>\n'
    )


def _step_words(step: Step, tz: ZoneInfo) -> str:
    """What one timeline entry says: only what changed, as the book recorded it."""
    words: list[str] = []
    if step.first:
        words.append(f"Reported: {status_label(step.status).lower()}.")
    elif step.status_changed:
        words.append(f"{status_label(step.status)}.")
    if step.eta is not None and (step.first or step.eta_changed):
        words.append(f"Estimated fix {local_time(step.eta, tz)}.")
    elif step.eta is None and step.eta_changed:
        words.append("Estimated fix withdrawn.")
    if step.added:
        words.append(f"Now also affects {_places(step.added)}.")
    if step.removed:
        words.append(f"No longer affects {_places(step.removed)}.")
    return " ".join(words) or "Details updated."


def _places(areas: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{code} ({place})" for code, place in areas)

"""The status page for machines: JSON (``/api/status``) and an Atom feed.

Press, monitoring tools and our own website follow incidents without scraping HTML. Both
carry what the page shows and nothing more (the same public fields as ``/api/incidents``
minus its timeline notes and authors), with absolute links under the service's public
address, and change only when the incidents do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from bot.incidents.view import services_phrase, split_services, to_public
from bot.responses.links import STATUS_PATH
from bot.status.board import PublicIncident, Snapshot
from bot.status.page import FEED_PATH, local_time, status_label

ATOM = "http://www.w3.org/2005/Atom"
TITLE = "Broadband & phone status"

#: Atom needs an ``updated`` even when no incident was ever recorded.
_NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def incident_url(base_url: str, incident: PublicIncident) -> str:
    """The incident's place on the status page."""
    return f"{base_url}{STATUS_PATH}#{incident.incident.reference}"


def status_json(snapshot: Snapshot, base_url: str) -> dict[str, Any]:
    """The ``/api/status`` document: active incidents first, then those recently fixed.

    Each incident has the ``/api/incidents`` fields (``reference``, ``title``, ``status``,
    ``services``, ``areas``, ``eta``, ``updated_at``... as ISO 8601), plus ``places`` (area
    code -> place name) and ``url``.
    """
    updated = snapshot.last_modified
    return {
        "updated": updated.isoformat() if updated is not None else None,
        "url": base_url + STATUS_PATH,
        "incidents": [
            {
                **to_public(i.incident, i.record.areas),
                "places": dict(i.places),
                "url": incident_url(base_url, i),
            }
            for i in snapshot.incidents
        ],
    }


def atom_feed(snapshot: Snapshot, base_url: str, tz: ZoneInfo) -> bytes:
    """The Atom feed (RFC 4287): one entry per incident, updated whenever it changes."""
    feed = ElementTree.Element("feed", xmlns=ATOM)
    _text(feed, "id", base_url + STATUS_PATH)
    _text(feed, "title", TITLE)
    _text(feed, "subtitle", "Known broadband and phone faults and when they will be fixed")
    _text(feed, "updated", _iso(snapshot.last_modified or _NEVER))
    _link(feed, base_url + FEED_PATH, "self", "application/atom+xml")
    _link(feed, base_url + STATUS_PATH, "alternate", "text/html")
    _text(ElementTree.SubElement(feed, "author"), "name", TITLE)
    for incident in snapshot.incidents:
        row = incident.incident
        entry = ElementTree.SubElement(feed, "entry")
        _text(entry, "id", incident_url(base_url, incident))
        _text(entry, "title", f"{row.title} ({status_label(row.status)})")
        _text(entry, "published", _iso(row.started_at))
        _text(entry, "updated", _iso(row.updated_at))
        _link(entry, incident_url(base_url, incident), "alternate", "text/html")
        category = ElementTree.SubElement(entry, "category")
        category.set("term", row.status)
        category.set("label", status_label(row.status))
        _text(entry, "summary", summary(incident, tz)).set("type", "text")
    document: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def summary(incident: PublicIncident, tz: ZoneInfo) -> str:
    """The incident in a few plain sentences, for a feed reader."""
    row = incident.incident
    areas = ", ".join(f"{code} ({place})" for code, place in incident.places)
    lines = [
        f"Status: {status_label(row.status)}.",
        f"Affects: {services_phrase(split_services(row.services))}.",
        f"Areas: {areas}.",
        f"Cause: {row.cause or 'not known yet'}.",
    ]
    if row.resolved_at is not None:
        lines.append(f"Fixed: {local_time(row.resolved_at, tz)}.")
    elif row.eta is not None:
        lines.append(f"Estimated fix: {local_time(row.eta, tz)}.")
    else:
        lines.append("Estimated fix: not known yet.")
    lines.append(f"Reference: {row.reference}.")
    return "\n".join(lines)


def _text(parent: ElementTree.Element, name: str, text: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, name)
    element.text = text
    return element


def _link(parent: ElementTree.Element, href: str, rel: str, kind: str) -> None:
    link = ElementTree.SubElement(parent, "link")
    link.set("rel", rel)
    link.set("type", kind)
    link.set("href", href)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()

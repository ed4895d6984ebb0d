"""``/api/incidents``: comms staff keep incidents up to date; everyone on the staff reads them.

Handlers only translate JSON to :class:`bot.incidents.book.Incidents` calls and back; all rules
(known areas, statuses, ETA in the future...) live there and come back as 422 reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.incidents.input import IncidentError, IncidentNotFound, parse_when
from bot.incidents.view import IncidentRecord
from bot.keys import incidents_key, settings_key
from bot.models import TimelineEntry
from bot.web.auth import EDITORS, EVERYONE, current_user, requires
from bot.web.errors import fail, read_json

FIELDS = frozenset({"title", "areas", "services", "status", "eta", "cause", "note"})
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        fail(web.HTTPUnprocessableEntity, f"'{name}' must be a string")
    return value


def _names(body: dict[str, Any], name: str) -> list[str] | None:
    """A list of strings, or one comma-separated string ("020,Leeds")."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fail(web.HTTPUnprocessableEntity, f"'{name}' must be a list of strings")
    return list(value)


def _eta(request: web.Request, body: dict[str, Any]) -> datetime | None:
    text = _text(body, "eta")
    if text is None or not text.strip():
        return None
    try:
        return parse_when(text, request.app[settings_key].tz)
    except IncidentError as exc:
        fail(web.HTTPUnprocessableEntity, str(exc))


def _check_fields(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        fail(
            web.HTTPUnprocessableEntity,
            f"unknown field(s) {', '.join(unknown)}; use {', '.join(sorted(FIELDS))}",
        )


def _timeline(updates: Sequence[TimelineEntry]) -> list[dict[str, Any]]:
    return [
        {
            "at": u.at.isoformat(),
            "author": u.author,
            "status": u.status,
            "eta": u.eta.isoformat() if u.eta is not None else None,
            "note": u.note,
        }
        for u in updates
    ]


def _active(request: web.Request) -> bool | None:
    raw = request.query.get("active")
    if raw is None or raw == "":
        return None
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    fail(web.HTTPUnprocessableEntity, f"'active' must be 1 or 0, got {raw!r}")


@requires(*EVERYONE)
async def list_incidents(request: web.Request) -> web.Response:
    """Incidents newest first, optionally one area's (code or town) or only active ones."""
    area = request.query.get("area") or None
    try:
        records = await request.app[incidents_key].find(area=area, active=_active(request))
    except IncidentError as exc:
        fail(web.HTTPUnprocessableEntity, str(exc))
    return web.json_response({"incidents": [r.to_public() for r in records]})


async def with_timeline(request: web.Request, record: IncidentRecord) -> dict[str, Any]:
    """The incident's public form plus its timeline (who changed what, when)."""
    timeline = await request.app[incidents_key].timeline(record.incident.reference)
    return {**record.to_public(), "timeline": _timeline(timeline)}


@requires(*EVERYONE)
async def get_incident(request: web.Request) -> web.Response:
    """One incident with its timeline (who changed what, when)."""
    try:
        record = await request.app[incidents_key].get(request.match_info["reference"])
    except IncidentNotFound as exc:
        fail(web.HTTPNotFound, str(exc))
    return web.json_response(await with_timeline(request, record))


@requires(*EDITORS)
async def create_incident(request: web.Request) -> web.Response:
    """Record a new incident; 201 with it, including its fresh reference."""
    record = await new_incident(request, await read_json(request))
    return web.json_response(await with_timeline(request, record), status=201)


async def new_incident(request: web.Request, body: dict[str, Any]) -> IncidentRecord:
    """Create the incident ``body`` describes, as the signed-in user; 422 for bad input.

    Shared with ``POST /api/alerts/{id}/incident``, which fills in the alert's areas.
    """
    _check_fields(body)
    title = _text(body, "title")
    areas = _names(body, "areas")
    services = _names(body, "services")
    if title is None:
        fail(web.HTTPUnprocessableEntity, "'title' is required")
    if areas is None:
        fail(web.HTTPUnprocessableEntity, "'areas' is required (area codes or towns)")
    try:
        record = await request.app[incidents_key].create(
            title=title,
            areas=areas,
            services=services if services is not None else ["broadband"],
            status=_text(body, "status") or "investigating",
            eta=_eta(request, body),
            cause=_text(body, "cause") or "",
            author=current_user(request).name,
        )
    except IncidentError as exc:
        fail(web.HTTPUnprocessableEntity, str(exc))
    return record


@requires(*EDITORS)
async def update_incident(request: web.Request) -> web.Response:
    """Change any fields; status ``resolved`` resolves it and ``eta: null`` clears the ETA."""
    body = await read_json(request)
    _check_fields(body)
    if not body:
        fail(web.HTTPUnprocessableEntity, f"nothing to change; give any of {', '.join(FIELDS)}")
    try:
        record = await request.app[incidents_key].update(
            request.match_info["reference"],
            title=_text(body, "title"),
            cause=_text(body, "cause"),
            status=_text(body, "status"),
            eta=_eta(request, body),
            clear_eta="eta" in body and not (_text(body, "eta") or "").strip(),
            areas=_names(body, "areas"),
            services=_names(body, "services"),
            note=_text(body, "note") or "",
            author=current_user(request).name,
        )
    except IncidentNotFound as exc:
        fail(web.HTTPNotFound, str(exc))
    except IncidentError as exc:
        fail(web.HTTPUnprocessableEntity, str(exc))
    return web.json_response(await with_timeline(request, record))

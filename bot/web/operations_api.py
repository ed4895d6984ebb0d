"""``/api/stats`` and ``/api/alerts``: the outage at a glance, for staff and their tools.

The figures and rules live in :mod:`bot.operations`; here they become JSON, 404 (no such
alert) and 409 (the alert is no longer open). Everyone on the staff may read; comms
staff (and admins) act on alerts.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from bot.keys import engine_key, locator_key, stats_key
from bot.models import Alert
from bot.operations import alerts, chart
from bot.operations.alerts import AlertClosed, AlertNotFound
from bot.web.auth import EDITORS, EVERYONE, current_user, requires
from bot.web.errors import fail, read_json
from bot.web.incidents_api import new_incident, with_timeline


@requires(*EVERYONE)
async def get_stats(request: web.Request) -> web.Response:
    """Everything the dashboard shows; ``?chart=svg`` adds the reports chart as SVG."""
    engine = request.app[engine_key]
    # Alerts are read fresh for every request, beside the shared reading of the figures.
    figures, views = await asyncio.gather(
        request.app[stats_key].figures(), alerts.open_alerts(engine)
    )
    figures["alerts"] = [view.to_public() for view in views]
    wanted = request.query.get("chart")
    if wanted == "svg":
        reports = figures["reports"]
        figures["chart"] = {"svg": chart.render(reports), "description": chart.describe(reports)}
    elif wanted is not None:
        fail(web.HTTPUnprocessableEntity, f"'chart' may only be 'svg', got {wanted!r}")
    return web.json_response(figures)


@requires(*EVERYONE)
async def list_alerts(request: web.Request) -> web.Response:
    """The open early-warning alerts, oldest first."""
    views = await alerts.open_alerts(request.app[engine_key])
    return web.json_response({"alerts": [view.to_public() for view in views]})


def _alert_id(request: web.Request) -> int:
    raw = request.match_info["alert_id"]
    if not raw.isdigit():
        fail(web.HTTPNotFound, f"no alert {raw!r}")
    return int(raw)


async def _open_alert(request: web.Request) -> Alert:
    try:
        return await alerts.get_open(request.app[engine_key], _alert_id(request))
    except AlertNotFound as exc:
        fail(web.HTTPNotFound, str(exc))
    except AlertClosed as exc:
        fail(web.HTTPConflict, str(exc))


@requires(*EDITORS)
async def dismiss_alert(request: web.Request) -> web.Response:
    """Dismiss an alert; who and when are recorded."""
    await _open_alert(request)
    try:
        alert = await alerts.dismiss(
            request.app[engine_key], _alert_id(request), current_user(request).name
        )
    except AlertClosed as exc:
        fail(web.HTTPConflict, str(exc))
    return web.json_response(
        {
            "id": alert.id,
            "state": alert.state,
            "dismissed_by": alert.dismissed_by,
            "dismissed_at": alert.dismissed_at.isoformat() if alert.dismissed_at else None,
        }
    )


@requires(*EDITORS)
async def incident_from_alert(request: web.Request) -> web.Response:
    """Open an incident for the alert's areas (the body may change any incident field).

    Without a body field the incident gets the alert's area codes, a title naming them,
    broadband and phone as services and status ``investigating``; 201 with the incident.
    """
    alert = await _open_alert(request)
    body = await read_json(request) if request.can_read_body else {}
    codes = alerts.codes_of(alert)
    place_for = request.app[locator_key].place_for
    named = ", ".join(f"{place_for(code) or code} ({code})" for code in codes)
    body.setdefault("areas", codes)
    body.setdefault("title", f"Faults reported in {named}")
    body.setdefault("services", ["broadband", "phone"])
    record = await new_incident(request, body)
    # The check may have cleared it meanwhile, having seen this very incident.
    with contextlib.suppress(AlertClosed):
        await alerts.became_incident(
            request.app[engine_key], alert.id or 0, record.incident.id or 0
        )
    return web.json_response(await with_timeline(request, record), status=201)

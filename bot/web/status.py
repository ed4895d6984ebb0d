"""The public status page over HTTP: ``/status``, area permalinks, ``/api/status``, Atom.

Built for the worst day, when everyone reloads it: each representation is rendered once
per change of incidents (memoised on the board's snapshot) together with its gzip form
and a content hash for an ``ETag``; requests then cost a dictionary lookup. Responses
carry ``Last-Modified``, answer ``If-None-Match`` / ``If-Modified-Since`` with 304 and
allow a shared cache (a CDN or reverse proxy) to keep them for :data:`MAX_AGE` seconds.
A search (``?q=``) is answered per request from the same snapshot, in memory, and is not
stored by caches: what people type may be their phone number.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

from bot.keys import locator_key, settings_key, status_board_key
from bot.status import page
from bot.status.board import Snapshot
from bot.status.feed import atom_feed, status_json
from bot.status.search import for_area, search
from bot.web.pages import STATIC

MAX_AGE = 10
"""Seconds a shared cache may serve a status representation without asking again."""

CACHEABLE = f"public, max-age={MAX_AGE}"

PAGE_HEADERS = {
    # The pages have no script at all, so this can be stricter than the consoles' policy.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
"""Security headers of every status page."""

FEED_HEADERS = {"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff"}
"""Headers of the machine-readable forms, which any website may fetch."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """One representation, ready to send: plain and gzipped bytes and their validators."""

    body: bytes
    gzipped: bytes
    content_type: str
    etag: str
    last_modified: datetime | None

    @classmethod
    def of(cls, body: bytes, content_type: str, snapshot: Snapshot) -> Rendered:
        """Compress ``body`` and hash it; the same incidents give the same ETag on every worker."""
        digest = hashlib.sha256(body).hexdigest()[:24]
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        return cls(body, packed, content_type, digest, snapshot.last_modified)


def send(request: web.Request, rendered: Rendered, headers: Mapping[str, str]) -> web.Response:
    """Answer with ``rendered``: 304 when the client's copy is current, gzip when accepted."""
    packed = _accepts_gzip(request)
    etag = rendered.etag + ("-gz" if packed else "")
    common = {
        **headers,
        "Cache-Control": CACHEABLE,
        "ETag": f'"{etag}"',
        "Vary": "Accept-Encoding",
    }
    if rendered.last_modified is not None:
        common["Last-Modified"] = format_datetime(rendered.last_modified.astimezone(UTC), True)
    if _not_modified(request, rendered):
        return web.Response(status=304, headers=common)
    if packed:
        common["Content-Encoding"] = "gzip"
    kind, _, charset = rendered.content_type.partition("; charset=")
    return web.Response(
        body=rendered.gzipped if packed else rendered.body,
        content_type=kind,
        charset=charset or None,
        headers=common,
    )


def _accepts_gzip(request: web.Request) -> bool:
    for coding in request.headers.get("Accept-Encoding", "").split(","):
        name, _, weight = coding.strip().partition(";")
        if name.strip().lower() == "gzip":
            return weight.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _not_modified(request: web.Request, rendered: Rendered) -> bool:
    """RFC 9110: ``If-None-Match`` decides when present, else ``If-Modified-Since``."""
    tags = request.if_none_match
    if tags is not None:
        mine = {rendered.etag, rendered.etag + "-gz", "*"}
        return any(tag.value in mine for tag in tags)
    since = request.if_modified_since
    changed = rendered.last_modified
    return (
        since is not None and changed is not None and int(changed.timestamp()) <= since.timestamp()
    )


async def status(request: web.Request) -> web.Response:
    """``GET /status``: every active and recently fixed incident; ``?q=`` adds a search."""
    app = request.app
    snapshot = await app[status_board_key].current()
    tz = app[settings_key].tz
    listing = snapshot.memo("listing", lambda: page.listing(snapshot.incidents, tz))
    query = request.query.get("q", "").strip()
    if not query:
        rendered = snapshot.memo(
            "page",
            lambda: Rendered.of(
                page.status_page(snapshot, tz, listing).encode(),
                "text/html; charset=utf-8",
                snapshot,
            ),
        )
        return send(request, rendered, PAGE_HEADERS)
    answer = search(snapshot, app[locator_key], query)
    return web.Response(
        text=page.status_page(snapshot, tz, listing, query, answer),
        content_type="text/html",
        headers={**PAGE_HEADERS, "Cache-Control": "no-store"},
    )


async def area(request: web.Request) -> web.Response:
    """``GET /status/area/{code}``: one area's permalink (a 404 page for an unknown code)."""
    app = request.app
    code = request.match_info["code"]
    tz = app[settings_key].tz
    locator = app[locator_key]
    place = locator.place_for(code)
    if place is None:
        return web.Response(
            status=404,
            text=page.not_found_page(code, tz),
            content_type="text/html",
            headers={**PAGE_HEADERS, "Cache-Control": CACHEABLE},
        )
    snapshot = await app[status_board_key].current()
    rendered = snapshot.memo(
        f"area:{code}",
        lambda: Rendered.of(
            page.area_page(snapshot, tz, for_area(snapshot, locator, code, place)).encode(),
            "text/html; charset=utf-8",
            snapshot,
        ),
    )
    return send(request, rendered, PAGE_HEADERS)


async def api_status(request: web.Request) -> web.Response:
    """``GET /api/status``: the incidents on the page as JSON (no authentication)."""
    snapshot = await request.app[status_board_key].current()
    base_url = request.app[settings_key].public_base_url
    rendered = snapshot.memo(
        "json",
        lambda: Rendered.of(
            json.dumps(status_json(snapshot, base_url)).encode(), "application/json", snapshot
        ),
    )
    return send(request, rendered, FEED_HEADERS)


async def feed(request: web.Request) -> web.Response:
    """``GET /status/feed.atom``: the incidents on the page as an Atom feed."""
    snapshot = await request.app[status_board_key].current()
    settings = request.app[settings_key]
    rendered = snapshot.memo(
        "atom",
        lambda: Rendered.of(
            atom_feed(snapshot, settings.public_base_url, settings.tz),
            "application/atom+xml; charset=utf-8",
            snapshot,
        ),
    )
    return send(request, rendered, FEED_HEADERS)


async def asset(request: web.Request) -> web.FileResponse:
    """The page's style sheet and icon (no inline styles: the pages run under a CSP)."""
    return web.FileResponse(
        STATIC / request.match_info["name"],
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )

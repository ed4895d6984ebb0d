"""The staff's plain server-rendered pages: signing in, "not allowed", "try again shortly".

They share one shell and one stylesheet (``sign-in.css``), no script, so they work
before anything else does: without a session, or with the session store down.
"""

from __future__ import annotations

from html import escape

from aiohttp import web


def sentence(reason: str) -> str:
    """A lower-case reason as the API gives it, written as a sentence for a page."""
    return reason[0].upper() + reason[1:] + "."


def page(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """``body`` (HTML, escaped by the caller) in a card under the heading ``title``."""
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} — outage-bot</title>\n"
        '<link rel="stylesheet" href="/static/sign-in.css">\n<link rel="icon" href="data:,">\n'
        "</head>\n<body>\n"
        f'<main class="card">\n<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n'
    )
    return web.Response(text=html, content_type="text/html", status=status, headers=headers)

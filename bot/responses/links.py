"""Links the bot gives customers: the public status page, for their own area when known.

A customer told about a fault can check it again there, without asking the bot; the
area's permalink shows only what affects them. The paths are the status page's routes
(``bot.web.routes``); a test follows a link from a bot answer to keep the two in step.
"""

from __future__ import annotations

from urllib.parse import quote

STATUS_PATH = "/status"
"""The status page, every active and recently fixed incident."""


def status_path(area_code: str | None = None) -> str:
    """Return the status page's path, or its permalink for ``area_code`` when one is given."""
    if not area_code:
        return STATUS_PATH
    return f"{STATUS_PATH}/area/{quote(area_code, safe='')}"


def status_url(base_url: str, area_code: str | None = None) -> str:
    """Return the absolute status link for ``area_code`` (or the whole page) under ``base_url``."""
    return base_url + status_path(area_code)

"""How commands print a moment: to the minute in ``OUTAGE_BOT_TZ``, ``-`` when unset.

Staff read these in a terminal next to the console, which shows the same local time.
"""

from __future__ import annotations

from datetime import datetime

from bot.settings import Settings


def local_time(moment: datetime | None, settings: Settings) -> str:
    """Return ``moment`` as ``YYYY-MM-DD HH:MM`` in the service's zone, or ``-``."""
    return f"{moment.astimezone(settings.tz):%Y-%m-%d %H:%M}" if moment else "-"

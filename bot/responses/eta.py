"""Times as customers read them: "by about 17:45 today", "by 09:00 tomorrow".

Incidents store aware UTC datetimes; a customer thinks in local wall-clock time and in
days relative to now. These functions are pure (``now`` and the zone are arguments) so
midnight and daylight-saving edges can be tested without a clock.

Phrasing rules, chosen so the answer never promises more precision than we have:

- an ETA that has passed reads "shortly" (the fix is overdue, not "by 14:00 today");
- ETAs round *up* to the next 5 minutes (17:43 -> 17:45), so we under-promise;
- "about" appears when rounding moved the time or the ETA is more than 24 hours away;
- today / tomorrow / tonight's midnight are said as such; anything later names the
  weekday and date ("on Friday 27 November"), with the year only when it differs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

ROUND_SECONDS = 5 * 60
"""ETAs are rounded up to this step; UK (and nearly every) UTC offset is a multiple of it."""

_PRECISE_HORIZON = timedelta(hours=24)


class NaiveDatetimeError(ValueError):
    """A naive datetime reached code that must know which instant it names."""


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment


def round_up(moment: datetime, step_seconds: int = ROUND_SECONDS) -> datetime:
    """Return ``moment`` rounded up to the next ``step_seconds`` boundary (same instant if on one).

    Rounding works on the UTC timeline, so a DST change between now and the ETA cannot
    produce a wall-clock time that does not exist.
    """
    utc = _aware(moment, "moment").astimezone(UTC)
    epoch = utc.timestamp()
    whole = -(-epoch // step_seconds) * step_seconds
    return datetime.fromtimestamp(whole, UTC)


def _clock(local: datetime) -> str:
    return f"{local:%H:%M}"


def _day(local: date, today: date) -> str:
    text = f"{local:%A} {local.day} {local:%B}"
    if local.year != today.year:
        text += f" {local.year}"
    return text


def eta_phrase(eta: datetime, now: datetime, tz: ZoneInfo) -> str:
    """Say when a fix is expected, relative to ``now``, in the customer's zone ``tz``.

    Args:
        eta: the expected fix time (aware).
        now: the current time (aware).
        tz: the customer's time zone (``Settings.tz``).

    Returns:
        A phrase to follow "we expect it fixed": "shortly", "by about 17:45 today",
        "by 09:00 tomorrow", "by about midnight tonight",
        "by about 14:00 on Friday 27 November".

    Raises:
        NaiveDatetimeError: ``eta`` or ``now`` has no time zone.
    """
    eta = _aware(eta, "eta")
    now = _aware(now, "now")
    if eta <= now:
        return "shortly"
    rounded = round_up(eta)
    approximate = rounded != eta.astimezone(UTC) or eta - now > _PRECISE_HORIZON
    prefix = "by about" if approximate else "by"
    local = rounded.astimezone(tz)
    today = now.astimezone(tz).date()
    if local.date() == today:
        return f"{prefix} {_clock(local)} today"
    if local.date() == today + timedelta(days=1):
        if local.hour == 0 and local.minute == 0:
            return f"{prefix} midnight tonight"
        return f"{prefix} {_clock(local)} tomorrow"
    return f"{prefix} {_clock(local)} on {_day(local.date(), today)}"


def past_phrase(moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    """Say when something happened ("at 14:05 today", "at 23:10 yesterday", "at 09:30 on ...").

    Used for ``{resolved_at}``: exact minutes, no rounding, because it already happened.

    Raises:
        NaiveDatetimeError: ``moment`` or ``now`` has no time zone.
    """
    local = _aware(moment, "moment").astimezone(tz)
    today = _aware(now, "now").astimezone(tz).date()
    if local.date() == today:
        return f"at {_clock(local)} today"
    if local.date() == today - timedelta(days=1):
        return f"at {_clock(local)} yesterday"
    return f"at {_clock(local)} on {_day(local.date(), today)}"

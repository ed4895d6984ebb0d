"""The status page's search: "is there a problem where I am?" answered from a snapshot.

People type what they would tell the bot: an area code, a phone number, a town or a
postcode. The bot's own :class:`~bot.locations.locator.Locator` reads it, so the page and
the bot never disagree about where someone is; the answer comes from the same
:class:`~bot.status.board.Snapshot` the page shows. Everything here is in memory (tens of
microseconds), so a search costs a request no database work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.locations.locator import Locator
from bot.status.board import PublicIncident, Snapshot

MAX_QUERY = 100
"""Longer than any area code, number, town or postcode someone would type; longer input
is answered without being read."""

_NOT_DIGITS = re.compile(r"[^\d]")
#: A UK mobile number once its digits are read: 07..., 447..., 00447..., "+44 (0)7...".
_MOBILE = re.compile(r"(?:0|44|0044|440)7\d{9}")


class Outcome(StrEnum):
    """What a search found."""

    PROBLEM = "problem"
    """The place has at least one open incident."""
    NO_PROBLEM = "no_problem"
    """The place is known and has no open incident."""
    MOBILE = "mobile"
    """A mobile number, which belongs to no area."""
    UNKNOWN = "unknown"
    """Nothing in the text names a place we know."""
    TOO_LONG = "too_long"
    """The text is longer than :data:`MAX_QUERY`."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to one search.

    Attributes:
        outcome: what was found.
        area_code: the area code found ("" when none).
        place: its place name, as specific as the text allowed ("" when none).
        active: open incidents affecting the area, in page order.
        fixed: incidents affecting it that were fixed within the page's window.
    """

    outcome: Outcome
    area_code: str = ""
    place: str = ""
    active: tuple[PublicIncident, ...] = ()
    fixed: tuple[PublicIncident, ...] = ()


def for_area(snapshot: Snapshot, locator: Locator, area_code: str, place: str) -> Answer:
    """Answer for a known ``area_code`` (a search's result, or an area's own page)."""
    found = snapshot.affecting(locator.parent_codes(area_code))
    active = tuple(i for i in found if i.active)
    fixed = tuple(i for i in found if not i.active)
    outcome = Outcome.PROBLEM if active else Outcome.NO_PROBLEM
    return Answer(outcome, area_code, place, active, fixed)


def search(snapshot: Snapshot, locator: Locator, text: str) -> Answer:
    """Answer a search for ``text``: where it names, and what is known there."""
    if len(text) > MAX_QUERY:
        return Answer(Outcome.TOO_LONG)
    location = locator.locate(text)
    if location is None:
        mobile = _MOBILE.fullmatch(_NOT_DIGITS.sub("", text))
        return Answer(Outcome.MOBILE if mobile else Outcome.UNKNOWN)
    return for_area(snapshot, locator, location.area_code, location.place)

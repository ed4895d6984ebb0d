"""Agent macros: comms-written replies an agent inserts with a key, filled in for the customer.

Macros are canned responses whose key starts ``macro_`` (:mod:`bot.responses.store`), so
comms staff write and correct them where they keep every other sentence, per channel.
Here one is filled in for the customer of the open conversation, in the form their
channel takes, and numbered for Alt+1 ... Alt+9 in key order. A placeholder nobody knows
a value for (no incident, so no ``{eta}``) shows as ``[eta]``: the agent edits the text
before sending it, and a gap that shows is a gap they fill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.handoff.customer import Customer
from bot.incidents.view import placeholder_values
from bot.messages import Variant
from bot.responses.store import MACRO_PREFIX, ResponseStore
from bot.responses.templates import parse

SHORTCUTS = 9
"""Macros with a key of their own: Alt+1 to Alt+9."""

FILLED_BY_STORE = frozenset({"status_url"})
"""Placeholders the response store fills itself (the area's status page)."""


@dataclass(frozen=True, slots=True)
class Macro:
    """One macro as the console shows it: filled in, with its key if it has one."""

    key: str
    title: str
    shortcut: str | None
    text: str
    missing: tuple[str, ...]

    def to_public(self) -> dict[str, Any]:
        """The ``GET /api/conversations/{id}/macros`` shape of one macro."""
        return {
            "key": self.key,
            "title": self.title,
            "shortcut": self.shortcut,
            "text": self.text,
            "missing": list(self.missing),
        }


def title(key: str) -> str:
    """How a macro is named in the console: ``macro_apology_eta`` is "apology eta"."""
    return key.removeprefix(MACRO_PREFIX).replace("_", " ")


def values_for(name: str, customer: Customer, now: datetime, tz: ZoneInfo) -> dict[str, str]:
    """The values a macro gets for ``customer``, called ``name``: who, where, which incident."""
    values = {"name": name}
    if customer.area_code:
        values["area_code"] = customer.area_code
        values["place"] = customer.place or customer.area_code
    if customer.incidents:
        incident = customer.incidents[0].incident
        found = placeholder_values(
            incident,
            area_code=customer.area_code or "",
            place=customer.place or customer.area_code or "",
            now=now,
            tz=tz,
        )
        values.update({k: v for k, v in found.items() if v})
    return values


def fill(responses: ResponseStore, variant: Variant, values: Mapping[str, str]) -> list[Macro]:
    """Every macro, in key order, in its ``variant`` text with ``values`` filled in."""
    macros = []
    for number, key in enumerate(responses.macros()):
        wanted = parse(responses.text_for(key, variant)).placeholders - FILLED_BY_STORE
        missing = tuple(sorted(name for name in wanted if not values.get(name)))
        shown = {**values, **{name: f"[{name}]" for name in missing}}
        macros.append(
            Macro(
                key=key,
                title=title(key),
                shortcut=f"Alt+{number + 1}" if number < SHORTCUTS else None,
                text=responses.render(key, variant, shown),
                missing=missing,
            )
        )
    return macros

"""``outage-bot incident``: add, update, resolve, show and list incidents from a terminal.

The same book the console uses (:mod:`bot.incidents.book`), so the timeline records the
``--author`` like any staff change. Each incident prints as one tab-separated line; ``add``
and ``update`` end with the reference alone, for scripts.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.database import on_database
from bot.cli.times import local_time
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.incidents.book import Incidents
    from bot.incidents.view import IncidentRecord


def _describe(record: IncidentRecord, settings: Settings) -> str:
    incident = record.incident
    return "\t".join(
        [
            incident.reference,
            incident.status,
            ",".join(record.areas),
            incident.services,
            f"eta {local_time(incident.eta, settings)}",
            incident.title,
        ]
    )


async def _add(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    from bot.incidents.input import parse_when

    record = await book.create(
        title=args.title,
        areas=args.areas,
        services=args.services,
        status=args.status,
        eta=parse_when(args.eta, settings.tz) if args.eta else None,
        cause=args.cause,
        author=args.author,
    )
    print(_describe(record, settings))
    print(record.incident.reference)


async def _update(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    from bot.incidents.input import parse_when

    clear = args.eta is not None and args.eta.strip().lower() == "none"
    record = await book.update(
        args.reference,
        title=args.title,
        cause=args.cause,
        status=args.status,
        eta=parse_when(args.eta, settings.tz) if args.eta and not clear else None,
        clear_eta=clear,
        areas=args.areas,
        services=args.services,
        author=args.author,
        note=args.note,
    )
    print(_describe(record, settings))
    print(record.incident.reference)


async def _resolve(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    record = await book.resolve(args.reference, author=args.author)
    print(f"resolved at {local_time(record.incident.resolved_at, settings)}")
    print(record.incident.reference)


async def _show(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    record = await book.get(args.reference)
    print(_describe(record, settings))
    if record.incident.cause:
        print(f"cause: {record.incident.cause}")
    for entry in await book.timeline(args.reference):
        print(f"{local_time(entry.at, settings)}\t{entry.author}\t{entry.status}\t{entry.note}")


async def _list(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    active = True if args.active else False if args.resolved else None
    for record in await book.find(area=args.area, active=active):
        print(_describe(record, settings))


ACTIONS = {
    "add": _add,
    "update": _update,
    "resolve": _resolve,
    "show": _show,
    "list": _list,
}


def incident_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``outage-bot incident ACTION`` on a prepared database; return 0."""
    from bot.incidents.book import Incidents

    action = ACTIONS[args.action]
    return on_database(
        settings, lambda engine, locator: action(Incidents(engine, locator), args, settings)
    )

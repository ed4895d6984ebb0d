"""Demo incidents: a replay of the 20 July 2016 London outage, plus two ordinary faults.

On 20 July 2016 a power failure at a partner's site in London took broadband and phone
away from customers in London and the surrounding area codes for much of a day. ``serve
--demo`` loads a similar picture relative to *now*, so the bot has something true to say
the moment it starts: an identified fault with an ETA (London and around), an open fault
without an ETA (Leeds) and one fixed a couple of hours ago (Manchester, for "is it fixed
yet?").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.incidents.book import Incidents
from bot.incidents.input import Locator
from bot.models import IncidentStatus, utcnow
from bot.responses.eta import round_up

log = logging.getLogger(__name__)

LONDON_2016_AREAS = ("020", "01322", "01689", "01708", "01737", "01895", "01923", "01992")
"""London and neighbouring codes: Dartford, Orpington, Romford, Redhill, Uxbridge,
Watford, Lea Valley."""


async def load_demo(
    engine: AsyncEngine, locator: Locator, now: datetime | None = None
) -> list[str]:
    """Load the demo incidents if there are no incidents at all; return their references.

    A database with any incident, demo or real, is left alone, so ``--demo`` is safe to
    pass on every start.
    """
    now = now or utcnow()
    book = Incidents(engine, locator, clock=lambda: now)
    if not await book.is_empty():
        return []
    london = await book.create(
        title="Broadband and phone outage in London and surrounding areas",
        areas=LONDON_2016_AREAS,
        services=["broadband", "phone"],
        status=IncidentStatus.INVESTIGATING,
        author="demo",
        now=now - timedelta(minutes=40),
    )
    await book.update(
        london.incident.reference,
        status=IncidentStatus.IDENTIFIED,
        cause="a power failure at a partner's site in London",
        eta=round_up(now + timedelta(hours=3), 15 * 60),
        note="Power supply failure at a peering partner's site; engineers on site.",
        author="demo",
        now=now - timedelta(minutes=10),
    )
    leeds = await book.create(
        title="Broadband outage in Leeds",
        areas=["0113"],
        services=["broadband"],
        cause="damage to an underground cable",
        status=IncidentStatus.INVESTIGATING,
        author="demo",
        now=now - timedelta(minutes=25),
    )
    manchester = await book.create(
        title="Phone and broadband faults in Manchester",
        areas=["0161"],
        services=["broadband", "phone"],
        cause="a faulty card at the local exchange",
        status=IncidentStatus.IDENTIFIED,
        eta=now - timedelta(hours=2),
        author="demo",
        now=now - timedelta(hours=6),
    )
    await book.resolve(manchester.incident.reference, author="demo", now=now - timedelta(hours=2))
    references = [r.incident.reference for r in (london, leeds, manchester)]
    log.info("loaded demo incidents %s", ", ".join(references))
    return references

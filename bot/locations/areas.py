"""Reference data in the database: the UK geographic area codes and their places.

The Locator answers customers from ``data/area_codes.csv`` in memory; the ``area_code``
table holds the same list so the console and SQL reports can join incidents to place
names. It is loaded once, when empty, so an operator's corrections to it are kept.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import AreaCode

log = logging.getLogger(__name__)

AREA_CODES_FILE = "area_codes.csv"


def read_area_codes(data_dir: Path) -> dict[str, str]:
    """Return code -> place from ``data_dir/area_codes.csv`` (columns ``code``, ``place``)."""
    with (data_dir / AREA_CODES_FILE).open(newline="", encoding="utf-8") as handle:
        return {row["code"].strip(): row["place"].strip() for row in csv.DictReader(handle)}


async def load_area_codes(engine: AsyncEngine, data_dir: Path) -> int:
    """Fill the ``area_code`` table from ``data_dir`` if it is empty; return rows added.

    Workers starting together on a new database race to fill it; the loser's unique
    violation just means the table is full.
    """
    async with AsyncSession(engine) as session:
        count = (await session.exec(select(func.count()).select_from(AreaCode))).one()
        if count:
            return 0
        codes = read_area_codes(data_dir)
        session.add_all(AreaCode(code=code, place=place) for code, place in codes.items())
        try:
            await session.commit()
        except IntegrityError:
            log.info("another worker loaded the area codes first")
            return 0
    log.info("loaded %d area codes", len(codes))
    return len(codes)

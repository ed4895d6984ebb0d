from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import create_engine
from bot.locations.areas import load_area_codes, read_area_codes
from bot.models import AreaCode
from bot.settings import Settings

DATA = Settings().data_dir


async def test_area_codes_load_once_and_keep_corrections(engine: AsyncEngine) -> None:
    codes = read_area_codes(DATA)
    assert codes["0113"] == "Leeds" and len(codes) > 600
    assert await load_area_codes(engine, DATA) == len(codes)
    async with AsyncSession(engine) as session:
        row = await session.get(AreaCode, "0113")
        assert row is not None and row.place == "Leeds"
        row.place = "Leeds (corrected)"
        session.add(row)
        await session.commit()
    assert await load_area_codes(engine, DATA) == 0
    async with AsyncSession(engine) as session:
        row = await session.get(AreaCode, "0113")
        assert row is not None and row.place == "Leeds (corrected)"


async def test_workers_starting_together_on_a_new_database_both_start(
    engine: AsyncEngine, database_url: str
) -> None:
    other = create_engine(database_url)  # a second worker's own engine
    try:
        added = await asyncio.gather(load_area_codes(engine, DATA), load_area_codes(other, DATA))
    finally:
        await other.dispose()
    assert sorted(added) == [0, len(read_area_codes(DATA))]

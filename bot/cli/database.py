"""The database as the commands see it: brought up to date and seeded before any work.

A fresh ``DATABASE_URL`` just works: the schema is migrated, then area codes and the
default responses are loaded when their tables are empty. A database that cannot be
reached is a :class:`~bot.cli.parser.UsageError` naming it without its password.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.cli.locate import locator
from bot.cli.parser import UsageError
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.locations.locator import Locator


def prepare(settings: Settings) -> None:
    """Migrate the schema at ``settings.database_url``, or raise :class:`UsageError`."""
    from bot.db import migrate_sync, safe_url

    try:
        migrate_sync(settings.database_url)
    except Exception as error:  # an unreachable or unwritable database, said in one line
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UsageError(
            f"cannot prepare the database at {safe_url(settings.database_url)}: {reason}"
        ) from None


def on_database(
    settings: Settings, work: Callable[[AsyncEngine, Locator], Awaitable[None]]
) -> int:
    """Run ``work`` on the seeded database, always disposing of the engine; return 0."""
    asyncio.run(_seeded(settings, work))
    return 0


async def _seeded(
    settings: Settings, work: Callable[[AsyncEngine, Locator], Awaitable[None]]
) -> None:
    from bot.db import create_engine
    from bot.locations.areas import load_area_codes
    from bot.responses.catalogue import DEFAULTS_FILE, ensure_defaults, load_catalogue

    engine = create_engine(settings.database_url)
    try:
        await load_area_codes(engine, settings.data_dir)
        await ensure_defaults(engine, load_catalogue(settings.data_dir / DEFAULTS_FILE))
        await work(engine, locator(settings))
    finally:
        await engine.dispose()


def db_command(args: argparse.Namespace, settings: Settings) -> int:
    """``outage-bot db upgrade``: what every command does first, and nothing else."""
    from bot.db import safe_url

    async def work(_engine: AsyncEngine, _locator: Locator) -> None:
        print(f"database at {safe_url(settings.database_url)} is up to date")

    return on_database(settings, work)

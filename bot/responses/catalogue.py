"""The shipped texts (``data/responses.toml``) and the rules every text of ours obeys.

Defaults are copied into the database on first start (:func:`ensure_defaults` adds
missing texts only, so console edits survive upgrades). The same :func:`check` refuses a
malformed shipped file at start-up and a comms edit at save time, so a text the bot sends
has always passed it.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Variant
from bot.models import Response, ResponseVersion, utcnow
from bot.responses.templates import EVERYWHERE, X_PUBLIC_LIMIT, validate
from bot.settings import ROOT

log = logging.getLogger(__name__)

DEFAULTS_FILE = "responses.toml"
PRIVATE_PLACEHOLDERS = frozenset({"name"})
"""Placeholders that identify a customer and so never appear in a public X reply."""


class ResponseError(ValueError):
    """A text cannot be saved; the message says why, for the console (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class ResponseDefault:
    """A response as shipped: its key, the placeholders it may use and its texts by variant."""

    key: str
    placeholders: tuple[str, ...]
    texts: Mapping[str, str]


def load_catalogue(path: Path) -> dict[str, ResponseDefault]:
    """Read the shipped defaults, refusing a file whose own texts would fail validation.

    Raises:
        ResponseError: the file is malformed; the message names the key and variant.
    """
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    catalogue: dict[str, ResponseDefault] = {}
    variants = {v.value for v in Variant}
    for key, table in raw.items():
        if not isinstance(table, dict) or "default" not in table:
            raise ResponseError(f"{path.name}: [{key}] needs a default text")
        listed = tuple(table.get("placeholders", ()))
        placeholders = listed + tuple(p for p in EVERYWHERE if p not in listed)
        texts = {k: v for k, v in table.items() if k != "placeholders"}
        for channel, text in texts.items():
            if channel not in variants:
                raise ResponseError(f"{path.name}: [{key}] has unknown variant {channel!r}")
            problems = check(key, channel, text, placeholders)
            if problems:
                raise ResponseError(f"{path.name}: [{key}] {channel}: {problems[0]}")
        catalogue[key] = ResponseDefault(key, placeholders, texts)
    return catalogue


def check(key: str, channel: str, text: str, placeholders: tuple[str, ...]) -> list[str]:
    """Return why ``text`` cannot be the ``channel`` variant of ``key`` (empty if it can)."""
    if channel != Variant.X_PUBLIC:
        return validate(text, placeholders)
    public = [p for p in placeholders if p not in PRIVATE_PLACEHOLDERS]
    return validate(text, public, max_length=X_PUBLIC_LIMIT)


async def ensure_defaults(
    engine: AsyncEngine, catalogue: Mapping[str, ResponseDefault] | None = None
) -> int:
    """Insert the shipped texts that the database has never had; return how many were added.

    ``catalogue`` defaults to the shipped ``data/responses.toml``.

    Existing rows are never touched, so an edited response keeps its edit, and a channel
    text comms staff removed (:meth:`bot.responses.store.ResponseStore.use_default`) is not
    brought back: it has a history. Two workers starting together may race; the loser's
    unique violation just means the work is done.
    """
    if catalogue is None:
        catalogue = load_catalogue(ROOT / "data" / DEFAULTS_FILE)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        had = select(ResponseVersion.key, ResponseVersion.channel).distinct()
        existing = {(key, channel) for key, channel in (await session.exec(had)).all()}
        added = 0
        now = utcnow()
        for entry in catalogue.values():
            for channel, text in entry.texts.items():
                if (entry.key, channel) in existing:
                    continue
                session.add(Response(key=entry.key, channel=channel, text=text, updated_at=now))
                session.add(
                    ResponseVersion(
                        key=entry.key, channel=channel, version=1, text=text, created_at=now
                    )
                )
                added += 1
        try:
            await session.commit()
        except IntegrityError:
            log.info("another worker loaded the default responses first")
            return 0
    if added:
        log.info("loaded %d default response texts", added)
    return added

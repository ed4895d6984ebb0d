"""Canned responses: every sentence the bot sends, editable by comms staff without a restart.

Defaults ship in ``data/responses.toml`` (:mod:`bot.responses.catalogue`). Each
save keeps the old text as a :class:`~bot.models.ResponseVersion` row (who, when).

Macros (keys starting ``macro_``) are the agents' ready-made replies. Unlike the bot's own
responses, which Rasa names and so must always exist, comms staff create and delete them;
a deleted one leaves its history behind, so a shipped macro stays deleted. (Adding and
deleting them is why the module runs a little over 400 lines: every write is a version
and refreshes the cache, and that rule reads best in one place.)

Rendering is on every reply's path, so :class:`ResponseStore` answers from memory. A save
through the store refreshes its own cache at once; other workers notice within about a
second through :meth:`ResponseStore.reload_if_changed` (one aggregate query over a table of
a hundred rows) or the :meth:`ResponseStore.watch` loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Variant
from bot.models import Response, ResponseVersion, utcnow
from bot.responses.catalogue import (
    DEFAULTS_FILE,
    ResponseDefault,
    ResponseError,
    check,
    ensure_defaults,
    load_catalogue,
)
from bot.responses.links import status_url
from bot.responses.templates import (
    PLACEHOLDERS,
    parse,
    render,
)

log = logging.getLogger(__name__)

_SAVE_ATTEMPTS = 5
REMOVED = ""
"""The text of a version that removed a channel's own text (no saved text can be empty)."""

MACRO_PREFIX = "macro_"
MACRO_KEY = re.compile(r"macro_[a-z0-9]+(?:_[a-z0-9]+)*")
MACRO_KEY_MAX = 60
MACRO_PLACEHOLDERS = (
    "name",
    "place",
    "area_code",
    "reference",
    "title",
    "cause",
    "services",
    "eta",
    "status_url",
)
"""What an agent's macro may say: the customer, their area and the incident covering it."""


def is_macro(key: str) -> bool:
    """Whether ``key`` names an agent macro rather than something the bot says."""
    return key.startswith(MACRO_PREFIX)


class ResponseExists(ResponseError):
    """A macro with this key exists already (HTTP 409)."""


class UnknownResponse(KeyError):
    """No canned response has this key."""

    def __str__(self) -> str:
        return f"no canned response {self.args[0]!r}"


class ResponseStore:
    """The canned responses, cached for rendering and saved with their history.

    Args:
        engine: the database.
        catalogue: the shipped defaults (for each key's placeholders).
        check_seconds: how often :meth:`reload_if_changed` really asks the database.
        public_url: the service's public address, for ``{status_url}`` (empty: a path).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        catalogue: Mapping[str, ResponseDefault],
        *,
        check_seconds: float = 1.0,
        public_url: str = "",
    ) -> None:
        self._engine = engine
        self._public_url = public_url
        self._catalogue = dict(catalogue)
        self._check_seconds = check_seconds
        self._texts: dict[str, dict[str, Response]] = {}
        self._signature: tuple[Any, ...] = ()
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, engine: AsyncEngine, data_dir: Path, **kwargs: Any) -> ResponseStore:
        """Load the defaults from ``data_dir``, store missing ones, fill the cache."""
        catalogue = load_catalogue(data_dir / DEFAULTS_FILE)
        await ensure_defaults(engine, catalogue)
        store = cls(engine, catalogue, **kwargs)
        await store.load()
        return store

    # ----- the hot path -------------------------------------------------------------

    def keys(self) -> list[str]:
        """Return every response key, sorted (macros only while they have texts)."""
        shipped = {key for key in self._catalogue if not is_macro(key)}
        return sorted(set(self._texts) | shipped)

    def macros(self) -> list[str]:
        """Return the agents' macros' keys, sorted."""
        return sorted(key for key in self._texts if is_macro(key))

    def exists(self, key: str) -> bool:
        """Whether ``key`` is a response now (a deleted macro is not)."""
        return key in self._texts or (key in self._catalogue and not is_macro(key))

    def placeholders(self, key: str) -> list[str]:
        """Return the placeholders ``key`` may use (all of them for a key not shipped)."""
        entry = self._catalogue.get(key)
        if entry is not None:
            return list(entry.placeholders)
        return list(MACRO_PLACEHOLDERS) if is_macro(key) else sorted(PLACEHOLDERS)

    def text_for(self, key: str, variant: Variant | str = Variant.DEFAULT) -> str:
        """Return the current text of ``key`` for ``variant``, or its default text.

        Raises:
            UnknownResponse: there is no response ``key``.
        """
        texts = self._texts.get(key)
        if texts is None:
            entry = self._catalogue.get(key)
            if entry is None or is_macro(key):
                raise UnknownResponse(key)
            return entry.texts.get(str(variant)) or entry.texts["default"]
        row = texts.get(str(variant)) or texts.get(Variant.DEFAULT)
        if row is None:
            raise UnknownResponse(key)
        return row.text

    def render(
        self,
        key: str,
        variant: Variant | str = Variant.DEFAULT,
        values: Mapping[str, str] | None = None,
    ) -> str:
        """Return ``key``'s text for ``variant`` with ``values`` filled in.

        Public X texts are checked against 280 characters on save; one that still comes
        out longer (a very long incident cause) is not cut here but sent as a numbered
        thread by the X channel, so no words are lost. ``{status_url}`` is filled in here,
        whoever renders: the area's status page when ``values`` name an area code.

        Raises:
            UnknownResponse: there is no response ``key``.
        """
        text = self.text_for(key, variant)
        values = values or {}
        if "status_url" in parse(text).placeholders and "status_url" not in values:
            link = status_url(self._public_url, values.get("area_code"))
            values = {**values, "status_url": link}
        return render(text, values)

    # ----- freshness ------------------------------------------------------------------

    async def load(self) -> None:
        """Read every current text into the cache."""
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            rows = (await session.exec(select(Response))).all()
            signature = await _signature(session)
        texts: dict[str, dict[str, Response]] = {}
        for row in rows:
            texts.setdefault(row.key, {})[row.channel] = row
        self._texts = texts
        self._signature = signature
        self._checked_at = time.monotonic()

    async def reload_if_changed(self) -> bool:
        """Reload the cache if another worker saved a text; return whether it did.

        Asks the database at most once per ``check_seconds``, so callers may await this
        before every render.
        """
        if time.monotonic() - self._checked_at < self._check_seconds:
            return False
        async with self._lock:
            if time.monotonic() - self._checked_at < self._check_seconds:
                return False
            async with AsyncSession(self._engine) as session:
                signature = await _signature(session)
            self._checked_at = time.monotonic()
            if signature == self._signature:
                return False
            await self.load()
            return True

    async def watch(self, interval: float = 1.0) -> None:
        """Keep the cache fresh forever (run as a background task; cancel to stop)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload_if_changed()
            except Exception:  # a database blip must not kill the refresher
                log.exception("could not check canned responses for changes")

    # ----- editing ----------------------------------------------------------------------

    async def save(self, key: str, channel: str, text: str, author: str) -> dict[str, Any]:
        """Validate and store a new text for ``key``'s ``channel`` variant; return the response.

        Every save is a new version; the previous text stays in the history.

        Raises:
            UnknownResponse: there is no response ``key``.
            ResponseError: the channel or the text is not acceptable; the message says why.
        """
        self._check_edit(key, channel)
        problems = check(key, channel, text, tuple(self.placeholders(key)))
        if problems:
            raise ResponseError("; ".join(problems))
        return await self._edit(key, channel, text, author)

    async def use_default(self, key: str, channel: str, author: str) -> dict[str, Any]:
        """Remove ``key``'s own text for ``channel``, which uses the default text from now on.

        The removal is a version in the history with an empty text (no saved text can be
        empty), so the old text can be looked up and a shipped one does not come back at
        the next start. Nothing happens when the channel has no text of its own.

        Raises:
            UnknownResponse: there is no response ``key``.
            ResponseError: ``channel`` is ``default`` (it can be edited, not removed) or
                not a channel.
        """
        self._check_edit(key, channel)
        if channel == Variant.DEFAULT:
            raise ResponseError("the default text cannot be removed, only edited")
        return await self._edit(key, channel, REMOVED, author)

    async def create(self, key: str, text: str, author: str) -> dict[str, Any]:
        """Add macro ``key`` with ``text`` as its default text; return it.

        Only macros can be added: the bot's own responses are the ones Rasa names.

        Raises:
            ResponseExists: the macro exists already.
            ResponseError: the key is not a macro's, or the text is not acceptable.
        """
        if not MACRO_KEY.fullmatch(key) or len(key) > MACRO_KEY_MAX:
            raise ResponseError(
                f"a new response must be a macro: 'macro_' and then lower-case words joined "
                f"by '_', at most {MACRO_KEY_MAX} characters in all, e.g. macro_engineer_booked"
            )
        if self.exists(key):
            raise ResponseExists(f"macro {key!r} exists already")
        problems = check(key, Variant.DEFAULT, text, tuple(self.placeholders(key)))
        if problems:
            raise ResponseError("; ".join(problems))
        return await self._edit(key, Variant.DEFAULT, text, author)

    async def delete(self, key: str, author: str) -> None:
        """Delete macro ``key``, every channel's text; the history keeps them.

        Raises:
            UnknownResponse: there is no response ``key``.
            ResponseError: ``key`` is one of the bot's own responses, which cannot go.
        """
        if not self.exists(key):
            raise UnknownResponse(key)
        if not is_macro(key):
            raise ResponseError(f"{key} is one of the bot's own responses: edit it instead")
        for _attempt in range(_SAVE_ATTEMPTS):
            try:
                await self._remove(key, author)
                break
            except IntegrityError:
                log.info("concurrent edit of %s; retrying", key)
        else:
            raise ResponseError("the macro was being edited by someone else; try again")
        await self.load()

    def _check_edit(self, key: str, channel: str) -> None:
        if not self.exists(key):
            raise UnknownResponse(key)
        variants = [v.value for v in Variant if not (is_macro(key) and v == Variant.X_PUBLIC)]
        if channel not in variants:
            raise ResponseError(f"channel must be one of {', '.join(variants)}, got {channel!r}")

    async def _edit(self, key: str, channel: str, text: str, author: str) -> dict[str, Any]:
        for _attempt in range(_SAVE_ATTEMPTS):
            try:
                await self._write(key, channel, text, author)
                break
            except IntegrityError:
                log.info("concurrent edit of %r/%r; retrying", key, channel)
        else:
            raise ResponseError("the response was being edited by someone else; try again")
        await self.load()
        return self.describe(key)

    async def _write(self, key: str, channel: str, text: str, author: str) -> None:
        """Store ``text`` (:data:`REMOVED`: remove the channel's text) as a new version."""
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            row = await session.get(Response, (key, channel))
            if (row.text if row is not None else REMOVED) == text:
                return
            latest = await session.exec(
                select(func.max(ResponseVersion.version)).where(
                    ResponseVersion.key == key, ResponseVersion.channel == channel
                )
            )
            version = (latest.one() or 0) + 1
            now = utcnow()
            if text == REMOVED:
                await session.delete(row)
            else:
                if row is None:
                    row = Response(key=key, channel=channel, text=text)
                row.text, row.version, row.updated_at, row.updated_by = text, version, now, author
                session.add(row)
            session.add(
                ResponseVersion(
                    key=key,
                    channel=channel,
                    version=version,
                    text=text,
                    author=author,
                    created_at=now,
                )
            )
            await session.commit()

    async def _remove(self, key: str, author: str) -> None:
        """Remove every text of ``key`` in one transaction, each as a :data:`REMOVED` version."""
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            rows = (await session.exec(select(Response).where(Response.key == key))).all()
            now = utcnow()
            for row in rows:
                latest = await session.exec(
                    select(func.max(ResponseVersion.version)).where(
                        ResponseVersion.key == key, ResponseVersion.channel == row.channel
                    )
                )
                session.add(
                    ResponseVersion(
                        key=key,
                        channel=row.channel,
                        version=(latest.one() or 0) + 1,
                        text=REMOVED,
                        author=author,
                        created_at=now,
                    )
                )
                await session.delete(row)
            await session.commit()

    # ----- the console's views --------------------------------------------------------

    def describe(self, key: str) -> dict[str, Any]:
        """Return ``key`` in the ``/api/responses`` shape (missing variants show the default).

        Besides the contract's ``key``, ``variants`` and ``placeholders`` it lists which
        variants have their own text (``overrides``) and each one's ``versions``.

        Raises:
            UnknownResponse: there is no response ``key``.
        """
        own = self._texts.get(key, {})
        return {
            "key": key,
            "variants": {v.value: self.text_for(key, v) for v in Variant},
            "placeholders": self.placeholders(key),
            "overrides": sorted(own),
            "versions": {channel: row.version for channel, row in sorted(own.items())},
        }

    async def history(self, key: str) -> list[dict[str, Any]]:
        """Return every saved text of ``key``, newest first, with who saved it and when.

        Raises:
            UnknownResponse: there is no response ``key``.
        """
        if not self.exists(key):
            raise UnknownResponse(key)
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            rows = await session.exec(
                select(ResponseVersion)
                .where(ResponseVersion.key == key)
                .order_by(col(ResponseVersion.created_at).desc(), col(ResponseVersion.id).desc())
            )
            return [
                {
                    "channel": r.channel,
                    "version": r.version,
                    "text": r.text,
                    "author": r.author,
                    "created_at": _iso(r.created_at),
                }
                for r in rows.all()
            ]

    def list(self) -> list[dict[str, Any]]:
        """Return every response in the ``GET /api/responses`` shape, sorted by key."""
        return [self.describe(key) for key in self.keys()]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


async def _signature(session: AsyncSession) -> tuple[Any, ...]:
    row = await session.exec(
        select(
            func.count(),
            func.coalesce(func.sum(Response.version), 0),
            func.max(Response.updated_at),
        )
    )
    count, versions, latest = row.one()
    return (int(count), int(versions), str(latest))

"""The X (Twitter) channel: polls mentions and DMs into the router, delivers the outbox.

Inbound. Two loops poll the X API v2 every ``X_POLL_SECONDS``: the support account's
mentions (``since_id`` = the newest mention already handed over) and its DM events (which
have no ``since_id``: pages are read newest first until an already-seen id). Each stream
has its own loop because X rate-limits each endpoint separately; a 429 sleeps until
``x-rate-limit-reset``, a 5xx or network error backs off 1, 2, 4 ... 60 s. New items go to
the router oldest first and the cursor (``ChannelCursor`` rows ``x:mentions`` and
``x:dm``) advances only past items the router has stored, so a crash re-reads at most a
few items, which the router's unique ``(channel, external_id)`` turns into no-ops. Our own
tweets and DMs are skipped. On the very first start there is no cursor: only items from
the last :data:`FIRST_RUN_WINDOW` are answered, so connecting an account with years of
mentions does not answer all of them.

Outbound. ``deliver_forever`` claims X replies from the outbox and calls :meth:`XChannel.send`.
``x_public`` replies are redacted (:mod:`bot.channels.x.privacy`), and if they mentioned
personal details the ``utter_dm_invite`` text is added; they are posted as replies to the
customer's tweet, split into a numbered thread chained tweet to tweet when over 280
characters (:mod:`bot.channels.x.thread`). ``x_dm`` replies (and public ones with no tweet
to answer, e.g. an agent's follow-up) go by DM. A 429 becomes ``RetryLater`` until the
reset; a 5xx or lost connection becomes ``RetryLater`` with backoff; other 4xx are
permanent failures.

Exactly once, and the crash between "sent" and "marked sent". A reply the outbox left in
``sending`` (the process died after claiming it) may or may not have reached X. We choose
to *look before resending*, because X lets us: at start the adapter reads the support
account's recent tweets (``GET /2/users/:id/tweets``) and DM events, and a reply is taken
as sent if our tweet answering the same tweet with the same text (or our DM to the same
customer with the same text, newer than the DM it answers) is there; otherwise it is
queued again. A half-posted thread keeps its posted parts and continues after them. The
same check runs before retrying a send whose earlier attempt failed ambiguously (5xx,
timeout, an unexpected error), since X may have posted it before failing. The other
choices are worse here: assuming "sent" loses replies, assuming "not sent" posts public
duplicates (which X may also refuse as duplicate content).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.x.api import build_client, failure
from bot.channels.x.privacy import public_reply
from bot.channels.x.thread import thread
from bot.delivery.outbox import Outbox, PermanentFailure, RetryLater, backoff, deliver_forever
from bot.messages import Channel, Inbound, Outbound, Router, Variant
from bot.models import ChannelCursor, utcnow
from bot.settings import Settings

log = logging.getLogger(__name__)

FIRST_RUN_WINDOW = timedelta(minutes=15)
DM_LIMIT = 10_000
PAGE_SIZE = 100
HAND_OVER_CONCURRENCY = 8
CHECK_PAGES = 5  # recent tweets / DM events read when looking for in-doubt replies
MENTIONS_CURSOR = "x:mentions"
DM_CURSOR = "x:dm"
DEFAULT_DM_INVITE = "Please send us a Direct Message so we can look at your details privately."
TWEET_FIELDS = ["author_id", "created_at", "conversation_id", "referenced_tweets"]
DM_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id"]

_LEADING_MENTIONS = re.compile(r"^(?:@\w+\s+)+")
_URL = re.compile(r"https?://\S+")


class CannedResponses(Protocol):
    """Where the DM invitation comes from (the comms-edited response store)."""

    def render(self, key: str, variant: Variant, values: dict[str, str] | None = None) -> str:
        """Render a canned response."""
        ...


@dataclass(frozen=True, slots=True)
class Account:
    """The support account the credentials belong to."""

    id: str
    username: str


async def load_cursor(engine: AsyncEngine, name: str) -> str | None:
    """Return the stored position of polling stream ``name``, if any."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        row = await session.get(ChannelCursor, name)
        return row.value if row else None


async def save_cursor(engine: AsyncEngine, name: str, value: str) -> None:
    """Store the position of polling stream ``name``; it never moves backwards."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        row = await session.get(ChannelCursor, name)
        if row is None:
            row = ChannelCursor(name=name, value=value)
        elif int(value) <= int(row.value):
            return
        row.value, row.updated_at = value, utcnow()
        session.add(row)
        await session.commit()


def _tweet_id(reply_to: str | None) -> str | None:
    """The tweet a public reply answers: router rows carry ``tweet:<id>``."""
    if not reply_to:
        return None
    kind, _, value = reply_to.rpartition(":")
    return value if kind in ("", "tweet") and value.isdigit() else None


def _dm_id(reply_to: str | None) -> int:
    kind, _, value = (reply_to or "").rpartition(":")
    return int(value) if kind == "dm" and value.isdigit() else 0


def _same_text(posted: str, ours: str) -> bool:
    """Compare as X stores text: HTML entities escaped, links shortened to t.co."""

    def norm(text: str) -> str:
        return " ".join(_URL.sub("<url>", html.unescape(text)).split())

    return norm(posted) == norm(ours)


def _one_to_one(event: dict[str, Any], user_id: str) -> bool:
    """Whether a DM event of ours was in the one-to-one conversation with ``user_id``.

    X names a one-to-one conversation by both user ids, smaller first ("12-34"), and
    sends ``participant_ids`` only on join/leave events.
    """
    return user_id in str(event.get("dm_conversation_id", "")).split("-")


def _created(item: dict[str, Any]) -> datetime | None:
    raw = item.get("created_at")
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None


class XChannel:
    """The X adapter for one support account.

    Args:
        settings: ``X_*`` credentials, ``X_API_URL`` and ``X_POLL_SECONDS``.
        router: receives every new mention and DM.
        outbox: the persisted replies to deliver.
        engine: where the polling cursors are kept.
        responses: renders ``utter_dm_invite``; a built-in sentence is used without it.
        wake: set by the router when X replies are queued (the app's event for X).
        session: an aiohttp session to reuse; one is created (and closed) otherwise.
    """

    def __init__(
        self,
        settings: Settings,
        router: Router,
        outbox: Outbox,
        engine: AsyncEngine,
        responses: CannedResponses | None = None,
        wake: asyncio.Event | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._settings = settings
        self._router = router
        self._outbox = outbox
        self._engine = engine
        self._responses = responses
        self.wake = wake or asyncio.Event()
        self._session = session
        self._own_session = session is None
        self._client: Any = None
        self._account: Account | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._progress: dict[int, list[str]] = {}  # message id -> ids posted so far
        self._unsure: set[int] = set()  # last attempt may have posted
        self._failures: dict[int, int] = {}
        self._problems: dict[str, str] = {}  # polling loop -> last failure, while failing

    @property
    def client(self) -> Any:
        """The tweepy ``AsyncClient`` (built on first use)."""
        if self._client is None:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self._client = build_client(self._settings, self._session)
        return self._client

    async def start(self) -> None:
        """Start polling mentions and DMs, and delivering X replies from the outbox."""
        self._tasks = [
            asyncio.create_task(self._forever(self.poll_mentions), name="x-mentions"),
            asyncio.create_task(self._forever(self.poll_dms), name="x-dms"),
            asyncio.create_task(self._deliver(), name="x-delivery"),
        ]

    async def stop(self) -> None:
        """Stop every loop; replies being sent stay in the outbox for the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session, self._client = None, None

    async def account(self) -> Account:
        """Return the support account (``GET /2/users/me``), asked once."""
        if self._account is None:
            body = await self.client.get_me(user_auth=True)
            data = body["data"]
            self._account = Account(id=str(data["id"]), username=str(data["username"]))
        return self._account

    def health(self) -> str:
        """``ok``, or what the polling loops are failing with (for ``GET /healthz``)."""
        if not self._problems:
            return "ok"
        return "; ".join(f"{name}: {reason}" for name, reason in sorted(self._problems.items()))

    # -- inbound ---------------------------------------------------------------------------
    async def _forever(self, step: Callable[[], Awaitable[int]]) -> None:
        failures = 0
        name = step.__name__.removeprefix("poll_")
        while True:
            try:
                await step()
            except Exception as exc:
                failures += 1
                found = failure(exc, backoff(failures))
                self._problems[name] = found.reason if found else type(exc).__name__
                if found is None:
                    log.exception("X polling failed; retrying")
                    delay = backoff(failures)
                else:
                    log.warning(
                        "X polling failed (%s); waiting %.0f s",
                        found.reason,
                        found.wait_seconds or 0,
                    )
                    delay = found.wait_seconds or self._settings.x_poll_seconds
                await asyncio.sleep(delay)
                continue
            failures = 0
            self._problems.pop(name, None)
            await asyncio.sleep(self._settings.x_poll_seconds)

    async def _read(
        self,
        fetch: Callable[..., Awaitable[dict[str, Any]]],
        cursor: str | None,
        use_since_id: bool,
        **params: Any,
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], str | None]:
        """Page through a newest-first stream back to ``cursor`` (or the first-run window).

        Returns the new items, the users included with them, and the newest id seen.
        """
        cutoff = utcnow() - FIRST_RUN_WINDOW if cursor is None else None
        items: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        newest: str | None = None
        token: str | None = None
        while True:
            query = dict(params, max_results=PAGE_SIZE)
            if cursor is not None and use_since_id:
                query["since_id"] = cursor
            if token:
                query["pagination_token"] = token
            body = await fetch(**query)
            for user in body.get("includes", {}).get("users", []):
                users[str(user["id"])] = user
            done = False
            for item in body.get("data", []):
                newest = newest or str(item["id"])
                created = _created(item)
                if (cursor is not None and int(item["id"]) <= int(cursor)) or (
                    cutoff is not None and created is not None and created < cutoff
                ):
                    done = True
                    break
                items.append(item)
            token = body.get("meta", {}).get("next_token")
            if done or not token:
                break
        items.sort(key=lambda item: int(item["id"]))
        return items, users, newest

    async def _hand_over(self, name: str, items: list[tuple[str, Inbound | None]]) -> int:
        """Give items (oldest first) to the router; the cursor follows what was stored.

        Different customers are handed over concurrently (up to
        :data:`HAND_OVER_CONCURRENCY` at once), each customer's own messages in order.
        The cursor moves to the newest item before which everything was stored, so a
        failure re-reads only what may be missing; the router drops what it already has.
        """
        stored = [inbound is None for _, inbound in items]
        new = 0
        slots = asyncio.Semaphore(HAND_OVER_CONCURRENCY)
        by_customer: dict[str, list[int]] = {}
        for index, (_, inbound) in enumerate(items):
            if inbound is not None:
                by_customer.setdefault(inbound.external_user_id, []).append(index)

        async def hand_over(indices: list[int]) -> None:
            nonlocal new
            for index in indices:
                inbound = items[index][1]
                assert inbound is not None
                async with slots:
                    result = await self._router.handle(inbound)
                new += 0 if result.duplicate else 1
                stored[index] = True

        outcomes = await asyncio.gather(
            *(hand_over(indices) for indices in by_customer.values()), return_exceptions=True
        )
        done = next((index for index, ok in enumerate(stored) if not ok), len(items))
        if done:
            await save_cursor(self._engine, name, items[done - 1][0])
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return new

    async def poll_mentions(self) -> int:
        """Read new mentions and hand them to the router; returns how many were new."""
        me = await self.account()
        cursor = await load_cursor(self._engine, MENTIONS_CURSOR)

        async def fetch(**query: Any) -> dict[str, Any]:
            result: dict[str, Any] = await self.client.get_users_mentions(me.id, **query)
            return result

        tweets, users, newest = await self._read(
            fetch,
            cursor,
            use_since_id=True,
            expansions=["author_id"],
            tweet_fields=TWEET_FIELDS,
            user_fields=["username", "name"],
        )
        batch: list[tuple[str, Inbound | None]] = []
        for tweet in tweets:
            author = str(tweet.get("author_id", ""))
            retweet = any(r.get("type") == "retweeted" for r in tweet.get("referenced_tweets", []))
            text = _LEADING_MENTIONS.sub("", html.unescape(tweet.get("text", ""))).strip()
            if author == me.id or retweet or not author or not text:
                batch.append((str(tweet["id"]), None))
                continue
            user = users.get(author, {})
            inbound = Inbound(
                channel=Channel.X,
                external_user_id=author,
                text=text,
                external_id=f"tweet:{tweet['id']}",
                variant=Variant.X_PUBLIC,
                reply_to=str(tweet["id"]),
                display_name=f"@{user['username']}" if user.get("username") else "",
            )
            batch.append((str(tweet["id"]), inbound))
        if not batch and newest and cursor is None:
            batch.append((newest, None))  # first run: start after what was already there
        return await self._hand_over(MENTIONS_CURSOR, batch)

    async def poll_dms(self) -> int:
        """Read new DMs sent to the account and hand them to the router."""
        me = await self.account()
        cursor = await load_cursor(self._engine, DM_CURSOR)

        async def fetch(**query: Any) -> dict[str, Any]:
            result: dict[str, Any] = await self.client.get_direct_message_events(
                user_auth=True, **query
            )
            return result

        events, users, newest = await self._read(
            fetch,
            cursor,
            use_since_id=False,
            dm_event_fields=DM_FIELDS,
            event_types="MessageCreate",
            expansions=["sender_id"],
            user_fields=["username", "name"],
        )
        batch: list[tuple[str, Inbound | None]] = []
        for event in events:
            sender = str(event.get("sender_id", ""))
            text = html.unescape(event.get("text", "")).strip()
            if sender == me.id or not sender or not text:
                batch.append((str(event["id"]), None))
                continue
            user = users.get(sender, {})
            inbound = Inbound(
                channel=Channel.X,
                external_user_id=sender,
                text=text,
                external_id=f"dm:{event['id']}",
                variant=Variant.X_DM,
                display_name=f"@{user['username']}" if user.get("username") else "",
            )
            batch.append((str(event["id"]), inbound))
        if not batch and newest and cursor is None:
            batch.append((newest, None))
        return await self._hand_over(DM_CURSOR, batch)

    # -- outbound --------------------------------------------------------------------------
    def _dm_invite(self) -> str:
        if self._responses is None:
            return DEFAULT_DM_INVITE
        try:
            return self._responses.render("utter_dm_invite", Variant.X_PUBLIC) or DEFAULT_DM_INVITE
        except Exception:  # a missing template must not block the reply
            log.warning("utter_dm_invite could not be rendered; using the built-in text")
            return DEFAULT_DM_INVITE

    def public_parts(self, outbound: Outbound) -> list[str]:
        """The tweets a public reply becomes: redacted, DM invite if needed, threaded."""
        return thread(public_reply(outbound.text, self._dm_invite()))

    async def send(self, outbound: Outbound) -> str | None:
        """Deliver one outbox reply; returns ``tweet:<id>`` or ``dm:<id>`` of what was posted.

        Raises:
            RetryLater: rate limited, or X/the network failed (posted parts are kept).
            PermanentFailure: X refused the message for good (e.g. DMs closed).
        """
        message_id = outbound.message_id
        tweet_id = _tweet_id(outbound.reply_to)
        public = outbound.variant is Variant.X_PUBLIC and tweet_id is not None
        parts = self.public_parts(outbound) if public else thread(outbound.text, DM_LIMIT)
        posted = self._progress.pop(message_id, [])
        try:
            if message_id in self._unsure:
                posted = await self._look_for(outbound, parts, posted)
                self._unsure.discard(message_id)
            for part in parts[len(posted) :]:
                if public:
                    parent = posted[-1] if posted else tweet_id
                    body = await self.client.create_tweet(
                        text=part, in_reply_to_tweet_id=parent, user_auth=True
                    )
                    posted.append(str(body["data"]["id"]))
                else:
                    body = await self.client.create_direct_message(
                        participant_id=outbound.external_user_id, text=part, user_auth=True
                    )
                    posted.append(str(body["data"]["dm_event_id"]))
        except Exception as exc:
            if posted:
                self._progress[message_id] = posted
            outcome = self._retry_or_fail(message_id, exc)
            if outcome is exc:
                raise
            raise outcome from exc
        self._failures.pop(message_id, None)
        return f"{'tweet' if public else 'dm'}:{posted[0]}"

    def _retry_or_fail(self, message_id: int, exc: Exception) -> Exception:
        attempts = self._failures[message_id] = self._failures.get(message_id, 0) + 1
        found = failure(exc, backoff(attempts))
        if found is None:
            # Not an API or network error (a bug, an odd response): the post may have
            # happened, so look before the outbox's retry posts again.
            self._unsure.add(message_id)
            return exc
        log.warning("X reply %s not sent: %s", message_id, found.reason)
        if found.ambiguous:
            self._unsure.add(message_id)
        if found.wait_seconds is None:
            self._failures.pop(message_id, None)
            self._progress.pop(message_id, None)
            self._unsure.discard(message_id)
            return PermanentFailure(found.reason)
        return RetryLater(found.wait_seconds, found.reason)

    # -- in doubt --------------------------------------------------------------------------
    async def _recent(
        self, fetch: Callable[..., Awaitable[dict[str, Any]]], **params: Any
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(CHECK_PAGES):
            query = dict(params, max_results=PAGE_SIZE)
            if token:
                query["pagination_token"] = token
            body = await fetch(**query)
            items.extend(body.get("data", []))
            token = body.get("meta", {}).get("next_token")
            if not token:
                break
        return items

    async def _our_tweets(self) -> dict[str, list[dict[str, Any]]]:
        """Our recent tweets by the tweet each one replies to."""
        me = await self.account()

        async def fetch(**query: Any) -> dict[str, Any]:
            result: dict[str, Any] = await self.client.get_users_tweets(me.id, **query)
            return result

        children: dict[str, list[dict[str, Any]]] = {}
        for tweet in await self._recent(fetch, tweet_fields=TWEET_FIELDS):
            for ref in tweet.get("referenced_tweets", []):
                if ref.get("type") == "replied_to":
                    children.setdefault(str(ref["id"]), []).append(tweet)
        return children

    async def _our_dms(self) -> list[dict[str, Any]]:
        """Our recent DM events, oldest first."""
        me = await self.account()

        async def fetch(**query: Any) -> dict[str, Any]:
            result: dict[str, Any] = await self.client.get_direct_message_events(
                user_auth=True, **query
            )
            return result

        events = await self._recent(fetch, dm_event_fields=DM_FIELDS, event_types="MessageCreate")
        ours = [e for e in events if str(e.get("sender_id")) == me.id]
        return sorted(ours, key=lambda e: int(e["id"]))

    async def _look_for(
        self,
        outbound: Outbound,
        parts: list[str],
        posted: list[str],
        tweets: dict[str, list[dict[str, Any]]] | None = None,
        dms: list[dict[str, Any]] | None = None,
        taken: set[str] | None = None,
    ) -> list[str]:
        """Return the ids of ``parts`` already on X (a prefix), ``posted`` included."""
        taken = set() if taken is None else taken
        found = list(posted)
        tweet_id = _tweet_id(outbound.reply_to)
        if outbound.variant is Variant.X_PUBLIC and tweet_id is not None:
            children = await self._our_tweets() if tweets is None else tweets
            parent = found[-1] if found else tweet_id
            for part in parts[len(found) :]:
                match = next(
                    (
                        str(t["id"])
                        for t in children.get(parent, [])
                        if str(t["id"]) not in taken and _same_text(t.get("text", ""), part)
                    ),
                    None,
                )
                if match is None:
                    break
                taken.add(match)
                found.append(match)
                parent = match
            return found
        events = await self._our_dms() if dms is None else dms
        after = int(found[-1]) if found else _dm_id(outbound.reply_to)
        for part in parts[len(found) :]:
            match = next(
                (
                    str(e["id"])
                    for e in events
                    if int(e["id"]) > after
                    and str(e["id"]) not in taken
                    and _one_to_one(e, outbound.external_user_id)
                    and _same_text(e.get("text", ""), part)
                ),
                None,
            )
            if match is None:
                break
            taken.add(match)
            found.append(match)
            after = int(match)
        return found

    async def settle_in_doubt(self) -> tuple[int, int]:
        """Decide every reply a crash left in ``sending``: found on X -> sent, else resend.

        Returns:
            How many were found already sent, and how many were queued again.
        """
        rows = await self._outbox.in_doubt(Channel.X)
        if not rows:
            return 0, 0
        tweets = await self._our_tweets()
        dms = await self._our_dms()
        taken: set[str] = set()
        sent = again = 0
        for row in rows:
            public = row.variant is Variant.X_PUBLIC and _tweet_id(row.reply_to) is not None
            parts = self.public_parts(row) if public else thread(row.text, DM_LIMIT)
            found = await self._look_for(row, parts, [], tweets, dms, taken)
            if len(found) == len(parts):
                external = f"{'tweet' if public else 'dm'}:{found[0]}"
                await self._outbox.resolve_in_doubt(row.message_id, True, external)
                sent += 1
                continue
            if found:
                self._progress[row.message_id] = found
            await self._outbox.resolve_in_doubt(row.message_id, False, None)
            again += 1
        log.info("X replies in doubt after restart: %d already sent, %d queued again", sent, again)
        return sent, again

    async def _deliver(self) -> None:
        failures = 0
        while True:
            try:
                await self.settle_in_doubt()
                break
            except Exception as exc:
                failures += 1
                found = failure(exc, backoff(failures))
                delay = found.wait_seconds if found and found.wait_seconds else backoff(failures)
                log.warning("checking X replies in doubt failed; retrying in %.0f s", delay)
                await asyncio.sleep(delay)
        await deliver_forever(self._outbox, Channel.X, self.send, self.wake)

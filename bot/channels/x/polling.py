"""Reading X's mentions and DM events into the router.

Two loops poll the X API v2 every ``X_POLL_SECONDS``: the support account's mentions
(``since_id`` = the newest mention already handed over) and its DM events (which have no
``since_id``: pages are read newest first until an already-seen id). Each stream has its
own loop because X rate-limits each endpoint separately; a 429 sleeps until
``x-rate-limit-reset``, a 5xx or network error backs off 1, 2, 4 ... 60 s. New items go to
the router oldest first and the cursor (:mod:`bot.channels.x.cursor`) advances only past
items the router has stored. Our own tweets and DMs are skipped. On the very first start
there is no cursor: only items from the last :data:`FIRST_RUN_WINDOW` are answered, so
connecting an account with years of mentions does not answer all of them. Texts and
names are mended by :func:`bot.untrusted.storable` (NULs, lone surrogates) before
anything stores them.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.x.api import Account, failure
from bot.channels.x.cursor import DM_CURSOR, MENTIONS_CURSOR, load_cursor, save_cursor
from bot.delivery.backoff import X_API, Backoff
from bot.messages import Channel, Inbound, Router, Variant
from bot.models import utcnow
from bot.untrusted import storable

log = logging.getLogger(__name__)

FIRST_RUN_WINDOW = timedelta(minutes=15)
PAGE_SIZE = 100
HAND_OVER_CONCURRENCY = 8
TWEET_FIELDS = ["author_id", "created_at", "conversation_id", "referenced_tweets"]
DM_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id"]

_LEADING_MENTIONS = re.compile(r"^(?:@\w+\s+)+")

Fetch = Callable[..., Awaitable[dict[str, Any]]]


async def poll_forever(
    step: Callable[[], Awaitable[int]],
    name: str,
    problems: dict[str, str],
    poll_seconds: float,
    backoff: Backoff = X_API,
) -> None:
    """Run ``step`` every ``poll_seconds``; while it fails, ``problems[name]`` says why."""
    failures = 0
    while True:
        try:
            await step()
        except Exception as exc:
            failures += 1
            found = failure(exc, backoff.delay(failures))
            problems[name] = found.reason if found else type(exc).__name__
            if found is None:
                log.exception("X polling failed; retrying")
                delay = backoff.delay(failures)
            else:
                log.warning(
                    "X polling failed (%r); waiting %.0f s", found.reason, found.wait_seconds or 0
                )
                delay = found.wait_seconds or poll_seconds
            await asyncio.sleep(delay)
            continue
        failures = 0
        problems.pop(name, None)
        await asyncio.sleep(poll_seconds)


def _created(item: dict[str, Any]) -> datetime | None:
    raw = item.get("created_at")
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None


async def read_stream(
    fetch: Fetch, cursor: str | None, use_since_id: bool, **params: Any
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], str | None]:
    """Page through a newest-first stream back to ``cursor`` (or the first-run window).

    Returns the new items (oldest first), the users included with them, and the newest
    id seen.
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


async def hand_over(
    router: Router, engine: AsyncEngine, name: str, items: list[tuple[str, Inbound | None]]
) -> int:
    """Give items (oldest first) to the router; the cursor follows what was stored.

    Different customers are handed over concurrently (up to
    :data:`HAND_OVER_CONCURRENCY` at once), each customer's own messages in order.
    The cursor moves to the newest item before which everything was stored, so a
    failure re-reads only what may be missing; the router drops what it already has.
    Returns how many items were new to the router.
    """
    stored = [inbound is None for _, inbound in items]
    new = 0
    slots = asyncio.Semaphore(HAND_OVER_CONCURRENCY)
    by_customer: dict[str, list[int]] = {}
    for index, (_, inbound) in enumerate(items):
        if inbound is not None:
            by_customer.setdefault(inbound.external_user_id, []).append(index)

    async def one_customer(indices: list[int]) -> None:
        nonlocal new
        for index in indices:
            inbound = items[index][1]
            assert inbound is not None
            async with slots:
                result = await router.handle(inbound)
            new += 0 if result.duplicate else 1
            stored[index] = True

    outcomes = await asyncio.gather(
        *(one_customer(indices) for indices in by_customer.values()), return_exceptions=True
    )
    done = next((index for index, ok in enumerate(stored) if not ok), len(items))
    if done:
        await save_cursor(engine, name, items[done - 1][0])
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return new


def _display_name(user: dict[str, Any]) -> str:
    return storable(f"@{user['username']}") if user.get("username") else ""


async def poll_mentions(client: Any, me: Account, router: Router, engine: AsyncEngine) -> int:
    """Read new mentions and hand them to the router; returns how many were new."""
    cursor = await load_cursor(engine, MENTIONS_CURSOR)

    async def fetch(**query: Any) -> dict[str, Any]:
        result: dict[str, Any] = await client.get_users_mentions(me.id, **query)
        return result

    tweets, users, newest = await read_stream(
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
        inbound = Inbound(
            channel=Channel.X,
            external_user_id=author,
            text=storable(text),
            external_id=f"tweet:{tweet['id']}",
            variant=Variant.X_PUBLIC,
            reply_to=str(tweet["id"]),
            display_name=_display_name(users.get(author, {})),
        )
        batch.append((str(tweet["id"]), inbound))
    if not batch and newest and cursor is None:
        batch.append((newest, None))  # first run: start after what was already there
    return await hand_over(router, engine, MENTIONS_CURSOR, batch)


async def poll_dms(client: Any, me: Account, router: Router, engine: AsyncEngine) -> int:
    """Read new DMs sent to the account and hand them to the router."""
    cursor = await load_cursor(engine, DM_CURSOR)

    async def fetch(**query: Any) -> dict[str, Any]:
        result: dict[str, Any] = await client.get_direct_message_events(user_auth=True, **query)
        return result

    events, users, newest = await read_stream(
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
        inbound = Inbound(
            channel=Channel.X,
            external_user_id=sender,
            text=storable(text),
            external_id=f"dm:{event['id']}",
            variant=Variant.X_DM,
            display_name=_display_name(users.get(sender, {})),
        )
        batch.append((str(event["id"]), inbound))
    if not batch and newest and cursor is None:
        batch.append((newest, None))
    return await hand_over(router, engine, DM_CURSOR, batch)

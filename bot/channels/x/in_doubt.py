"""Exactly once across a crash between "sent" and "marked sent": look on X before resending.

A reply the outbox left in ``sending`` (the process died after claiming it) may or may
not have reached X. We choose to *look before resending*, because X lets us: at start the
adapter reads the support account's recent tweets (``GET /2/users/:id/tweets``) and DM
events, and a reply is taken as sent if our tweet answering the same tweet with the same
text (or our DM to the same customer with the same text, newer than the DM it answers) is
there; otherwise it is queued again. A half-posted thread keeps its posted parts and
continues after them. The same check runs before retrying a send whose earlier attempt
failed ambiguously (5xx, timeout, an unexpected error), since X may have posted it before
failing. The other choices are worse here: assuming "sent" loses replies, assuming "not
sent" posts public duplicates (which X may also refuse as duplicate content).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.x.api import Account
from bot.channels.x.polling import DM_FIELDS, PAGE_SIZE, TWEET_FIELDS, Fetch
from bot.delivery.outbox import Outbox
from bot.messages import Channel, Outbound, Variant

log = logging.getLogger(__name__)

CHECK_PAGES = 5  # recent tweets / DM events read when looking for in-doubt replies

_URL = re.compile(r"https?://\S+")

Tweets = dict[str, list[dict[str, Any]]]
"""Our recent tweets by the id of the tweet each one replies to."""


def tweet_id(reply_to: str | None) -> str | None:
    """The tweet a public reply answers: router rows carry ``tweet:<id>``."""
    if not reply_to:
        return None
    kind, _, value = reply_to.rpartition(":")
    return value if kind in ("", "tweet") and value.isdigit() else None


def is_public(outbound: Outbound) -> bool:
    """Whether a reply goes out as tweets (public and answering a tweet) rather than a DM."""
    return outbound.variant is Variant.X_PUBLIC and tweet_id(outbound.reply_to) is not None


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


async def _recent(fetch: Fetch, **params: Any) -> list[dict[str, Any]]:
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


async def our_tweets(client: Any, me: Account) -> Tweets:
    """Our recent tweets by the tweet each one replies to."""

    async def fetch(**query: Any) -> dict[str, Any]:
        result: dict[str, Any] = await client.get_users_tweets(me.id, **query)
        return result

    children: Tweets = {}
    for tweet in await _recent(fetch, tweet_fields=TWEET_FIELDS):
        for ref in tweet.get("referenced_tweets", []):
            if ref.get("type") == "replied_to":
                children.setdefault(str(ref["id"]), []).append(tweet)
    return children


async def our_dms(client: Any, me: Account) -> list[dict[str, Any]]:
    """Our recent DM events, oldest first."""

    async def fetch(**query: Any) -> dict[str, Any]:
        result: dict[str, Any] = await client.get_direct_message_events(user_auth=True, **query)
        return result

    events = await _recent(fetch, dm_event_fields=DM_FIELDS, event_types="MessageCreate")
    ours = [e for e in events if str(e.get("sender_id")) == me.id]
    return sorted(ours, key=lambda e: int(e["id"]))


def already_posted(
    outbound: Outbound,
    parts: list[str],
    posted: list[str],
    tweets: Tweets,
    dms: list[dict[str, Any]],
    taken: set[str],
) -> list[str]:
    """Return the ids of ``parts`` already on X (a prefix), ``posted`` included.

    ``taken`` collects the ids matched so far, so two identical replies in doubt are not
    both matched to the same post.
    """
    found = list(posted)
    if is_public(outbound):
        parent = found[-1] if found else tweet_id(outbound.reply_to)
        for part in parts[len(found) :]:
            match = next(
                (
                    str(t["id"])
                    for t in tweets.get(str(parent), [])
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
    after = int(found[-1]) if found else _dm_id(outbound.reply_to)
    for part in parts[len(found) :]:
        match = next(
            (
                str(e["id"])
                for e in dms
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


async def settle_in_doubt(
    outbox: Outbox,
    client: Any,
    account: Callable[[], Awaitable[Account]],
    parts_of: Callable[[Outbound], list[str]],
    progress: dict[int, list[str]],
) -> tuple[int, int]:
    """Decide every reply a crash left in ``sending``: found on X -> sent, else resend.

    A half-posted reply's posted ids go into ``progress`` so the resend continues after
    them.

    Returns:
        How many were found already sent, and how many were queued again.
    """
    rows = await outbox.in_doubt(Channel.X)
    if not rows:
        return 0, 0
    me = await account()
    tweets = await our_tweets(client, me)
    dms = await our_dms(client, me)
    taken: set[str] = set()
    sent = again = 0
    for row in rows:
        parts = parts_of(row)
        found = already_posted(row, parts, [], tweets, dms, taken)
        if len(found) == len(parts):
            external = f"{'tweet' if is_public(row) else 'dm'}:{found[0]}"
            await outbox.resolve_in_doubt(row.message_id, True, external)
            sent += 1
            continue
        if found:
            progress[row.message_id] = found
        await outbox.resolve_in_doubt(row.message_id, False, None)
        again += 1
    log.info("X replies in doubt after restart: %d already sent, %d queued again", sent, again)
    return sent, again

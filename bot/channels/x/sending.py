"""Delivering one outbox reply to X: a tweet thread in public, a DM in private.

``x_public`` replies are redacted (:mod:`bot.channels.x.privacy`), and if they mentioned
personal details the ``utter_dm_invite`` text is added; they are posted as replies to the
customer's tweet, split into a numbered thread chained tweet to tweet when over 280
characters (:mod:`bot.channels.x.thread`). ``x_dm`` replies (and public ones with no tweet
to answer, e.g. an agent's follow-up) go by DM. A 429 becomes ``RetryLater`` until the
reset; a 5xx or lost connection becomes ``RetryLater`` with backoff; other 4xx are
permanent failures. A thread that failed half-way keeps its posted parts; an attempt that
may have posted is looked for on X (:mod:`bot.channels.x.in_doubt`) before the retry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.x.api import Account, failure
from bot.channels.x.in_doubt import already_posted, is_public, our_dms, our_tweets, tweet_id
from bot.channels.x.privacy import public_reply
from bot.channels.x.thread import thread
from bot.delivery.backoff import X_API, Backoff
from bot.delivery.outbox import PermanentFailure, RetryLater
from bot.messages import Outbound, Renderer, Variant

log = logging.getLogger(__name__)

DM_LIMIT = 10_000
DEFAULT_DM_INVITE = "Please send us a Direct Message so we can look at your details privately."


class Sender:
    """Posts X replies and remembers, per outbox message, what a failed attempt left.

    Args:
        client: returns the tweepy ``AsyncClient`` (built on first use by the channel).
        account: returns the support account.
        responses: renders ``utter_dm_invite``; a built-in sentence is used without it.
        backoff: how long a reply waits after a 5xx or a lost connection, by its attempts.
    """

    def __init__(
        self,
        client: Callable[[], Any],
        account: Callable[[], Awaitable[Account]],
        responses: Renderer | None,
        backoff: Backoff = X_API,
    ) -> None:
        self._client = client
        self._account = account
        self._responses = responses
        self._backoff = backoff
        self.progress: dict[int, list[str]] = {}  # message id -> ids posted so far
        self._unsure: set[int] = set()  # last attempt may have posted
        self._failures: dict[int, int] = {}

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

    def parts(self, outbound: Outbound) -> list[str]:
        """What ``outbound`` is posted as: tweets if public, else DMs."""
        return (
            self.public_parts(outbound) if is_public(outbound) else thread(outbound.text, DM_LIMIT)
        )

    async def send(self, outbound: Outbound) -> str | None:
        """Deliver one outbox reply; returns ``tweet:<id>`` or ``dm:<id>`` of what was posted.

        Raises:
            RetryLater: rate limited, or X/the network failed (posted parts are kept).
            PermanentFailure: X refused the message for good (e.g. DMs closed).
        """
        message_id = outbound.message_id
        public = is_public(outbound)
        parts = self.parts(outbound)
        posted = self.progress.pop(message_id, [])
        client = self._client()
        try:
            if message_id in self._unsure:
                me = await self._account()
                tweets = await our_tweets(client, me) if public else {}
                dms = [] if public else await our_dms(client, me)
                posted = already_posted(outbound, parts, posted, tweets, dms, set())
                self._unsure.discard(message_id)
            for part in parts[len(posted) :]:
                if public:
                    parent = posted[-1] if posted else tweet_id(outbound.reply_to)
                    body = await client.create_tweet(
                        text=part, in_reply_to_tweet_id=parent, user_auth=True
                    )
                    posted.append(str(body["data"]["id"]))
                else:
                    body = await client.create_direct_message(
                        participant_id=outbound.external_user_id, text=part, user_auth=True
                    )
                    posted.append(str(body["data"]["dm_event_id"]))
        except Exception as exc:
            if posted:
                self.progress[message_id] = posted
            outcome = self._retry_or_fail(message_id, exc)
            if outcome is exc:
                raise
            raise outcome from exc
        self._failures.pop(message_id, None)
        return f"{'tweet' if public else 'dm'}:{posted[0]}"

    def _retry_or_fail(self, message_id: int, exc: Exception) -> Exception:
        attempts = self._failures[message_id] = self._failures.get(message_id, 0) + 1
        found = failure(exc, self._backoff.delay(attempts))
        if found is None:
            # Not an API or network error (a bug, an odd response): the post may have
            # happened, so look before the outbox's retry posts again.
            self._unsure.add(message_id)
            return exc
        log.warning("X reply %s not sent: %r", message_id, found.reason)
        if found.ambiguous:
            self._unsure.add(message_id)
        if found.wait_seconds is None:
            self._failures.pop(message_id, None)
            self.progress.pop(message_id, None)
            self._unsure.discard(message_id)
            return PermanentFailure(found.reason)
        return RetryLater(found.wait_seconds, found.reason)

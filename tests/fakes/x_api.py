"""A fake X API v2 (the endpoints the X adapter uses) served by aiohttp on 127.0.0.1.

It keeps tweets and DM events in memory with increasing snowflake-like ids, answers
newest first with ``next_token`` pagination as X does, and has knobs to inject customer
mentions and DMs and to make the next matching requests fail (429 with
``x-rate-limit-reset``, 5xx, or a 5xx *after* the post was stored, which is the
ambiguous case a lost response produces on the real API).

Items carry only X's default fields plus those named in ``tweet.fields`` /
``dm_event.fields``, so a client that forgets to ask for a field does not get it.

Authentication: every request needs ``Authorization: Bearer ...`` or ``OAuth ...``;
user-context endpoints (posting, DMs, /users/me) refuse app-only Bearer tokens with 403,
like X. Signatures are not verified.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.settings import Secret, Settings

ME_ID = "1000"
ME_USERNAME = "ExampleSupport"


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Failure:
    status: int
    method: str | None
    path_prefix: str | None
    reset_in: float = 1.0
    after_effect: bool = False  # apply the request, then answer with the error


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    at: float
    status: int = 0


@dataclass
class FakeXApi:
    me_id: str = ME_ID
    username: str = ME_USERNAME
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    dm_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    _ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(1_860_000_000_000_000_000, 7)
    )
    _runner: web.AppRunner | None = None
    base_url: str = ""

    def __post_init__(self) -> None:
        self.users[self.me_id] = {"id": self.me_id, "username": self.username, "name": "Support"}

    # -- knobs -----------------------------------------------------------------------------
    def next_id(self) -> str:
        return str(next(self._ids))

    def add_user(self, user_id: str, username: str | None = None) -> None:
        name = username or f"customer{user_id}"
        self.users.setdefault(user_id, {"id": user_id, "username": name, "name": name.title()})

    def mention(self, author_id: str, text: str, in_reply_to: str | None = None) -> str:
        """A customer tweets at the support account; returns the tweet id."""
        self.add_user(author_id)
        if f"@{self.username}".lower() not in text.lower():
            text = f"@{self.username} {text}"
        return self._store_tweet(author_id, text, in_reply_to, mentions=[self.me_id])

    def dm(self, sender_id: str, text: str) -> str:
        """A customer sends the support account a DM; returns the event id."""
        self.add_user(sender_id)
        return self._store_dm(sender_id, recipient_id=self.me_id, text=text)

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        reset_in: float = 1.0,
        after_effect: bool = False,
    ) -> None:
        """Make the next ``times`` requests matching ``method``/``path`` prefix fail."""
        for _ in range(times):
            self.failures.append(Failure(status, method, path, reset_in, after_effect))

    def replies_to(self, tweet_id: str) -> list[dict[str, Any]]:
        """Our tweets replying directly to ``tweet_id``."""
        return [
            t
            for t in self.tweets.values()
            if t["author_id"] == self.me_id and t.get("_in_reply_to") == tweet_id
        ]

    def our_tweets(self) -> list[dict[str, Any]]:
        return [t for t in self.tweets.values() if t["author_id"] == self.me_id]

    def our_dms(self, participant_id: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.dm_events.values()
            if e["sender_id"] == self.me_id
            and (participant_id is None or e["_recipient_id"] == participant_id)
        ]

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for c in self.calls if c.method == method and c.path.startswith(path_prefix))

    # -- storage ---------------------------------------------------------------------------
    def _store_tweet(
        self, author_id: str, text: str, in_reply_to: str | None, mentions: list[str] | None = None
    ) -> str:
        tweet_id = self.next_id()
        parent = self.tweets.get(in_reply_to or "")
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "created_at": _now_iso(),
            "conversation_id": parent["conversation_id"] if parent else tweet_id,
            "_in_reply_to": in_reply_to,
            "_mentions": list(mentions or []),
        }
        if parent:
            tweet["in_reply_to_user_id"] = parent["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to}]
        self.tweets[tweet_id] = tweet
        return tweet_id

    def _store_dm(self, sender_id: str, recipient_id: str, text: str) -> str:
        event_id = self.next_id()
        low, high = sorted((sender_id, recipient_id), key=int)
        self.dm_events[event_id] = {
            "id": event_id,
            "event_type": "MessageCreate",
            "text": text,
            "sender_id": sender_id,
            "created_at": _now_iso(),
            "dm_conversation_id": f"{low}-{high}",
            "_participants": [sender_id, recipient_id],
            "_recipient_id": recipient_id,
        }
        return event_id

    # -- HTTP ------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/2/users/me", self._me)
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_get("/2/users/{id}/tweets", self._user_tweets)
        app.router.add_get("/2/dm_events", self._dm_events)
        app.router.add_post("/2/tweets", self._create_tweet)
        app.router.add_post("/2/dm_conversations/with/{participant_id}/messages", self._create_dm)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
        body = {"title": web.Response(status=status).reason, "detail": detail, "status": status}
        return web.json_response(body, status=status, headers=headers)

    def _pop_failure(self, request: web.Request) -> Failure | None:
        for index, failure in enumerate(self.failures):
            if failure.method not in (None, request.method):
                continue
            if failure.path_prefix is not None and not request.path.startswith(
                failure.path_prefix
            ):
                continue
            return self.failures.pop(index)
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        call = Call(request.method, request.path, dict(request.query), time.time())
        self.calls.append(call)
        auth = request.headers.get("Authorization", "")
        if not (auth.startswith("Bearer ") and len(auth) > 7) and not auth.startswith("OAuth "):
            call.status = 401
            return self._error(401, "Unauthorized")
        user_context = request.method == "POST" or request.path.startswith(
            ("/2/dm", "/2/users/me")
        )
        if user_context and not auth.startswith("OAuth "):
            call.status = 403
            return self._error(403, "Authenticating with OAuth 2.0 Application-Only is forbidden")
        failure = self._pop_failure(request)
        if failure is not None and not failure.after_effect:
            call.status = failure.status
            return self._failure_response(failure)
        response: web.StreamResponse = await handler(request)
        if failure is not None:
            call.status = failure.status
            return self._failure_response(failure)
        call.status = response.status
        return response

    def _failure_response(self, failure: Failure) -> web.Response:
        if failure.status == 429:
            reset = str(int(time.time() + failure.reset_in))
            headers = {"x-rate-limit-reset": reset, "x-rate-limit-remaining": "0"}
            return self._error(429, "Too Many Requests", headers)
        return self._error(failure.status, "Injected failure")

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response({"data": self.users[self.me_id]})

    @staticmethod
    def _public(item: dict[str, Any], requested: str) -> dict[str, Any]:
        """Only the default fields and those asked for, as X answers."""
        wanted = {"id", "text", "edit_history_tweet_ids", "event_type", *requested.split(",")}
        return {k: v for k, v in item.items() if k in wanted}

    def _page(
        self, request: web.Request, items: list[dict[str, Any]], with_authors: bool
    ) -> web.Response:
        items = sorted(items, key=lambda i: int(i["id"]), reverse=True)
        since = request.query.get("since_id")
        if since:
            items = [i for i in items if int(i["id"]) > int(since)]
        until = request.query.get("until_id")
        if until:
            items = [i for i in items if int(i["id"]) < int(until)]
        size = int(request.query.get("max_results", "10"))
        if not 1 <= size <= 100:
            return self._error(400, "max_results must be between 1 and 100")
        offset = int(request.query.get("pagination_token", "0"))
        page = items[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0]["id"], page[-1]["id"]
        if offset + size < len(items):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            fields = request.query.get("tweet.fields" if with_authors else "dm_event.fields", "")
            body["data"] = [self._public(i, fields) for i in page]
            key = "author_id" if with_authors else "sender_id"
            if key in request.query.get("expansions", ""):
                authors = {i[key] for i in page}
                body["includes"] = {"users": [self.users[a] for a in sorted(authors)]}
        return web.json_response(body)

    async def _mentions(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        items = [t for t in self.tweets.values() if user_id in t["_mentions"]]
        return self._page(request, items, with_authors=True)

    async def _user_tweets(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        items = [t for t in self.tweets.values() if t["author_id"] == user_id]
        return self._page(request, items, with_authors=True)

    async def _dm_events(self, request: web.Request) -> web.Response:
        items = [e for e in self.dm_events.values() if self.me_id in e["_participants"]]
        return self._page(request, items, with_authors=False)

    async def _create_tweet(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = body.get("text") or ""
        if not text or len(text) > 280:
            return self._error(400, f"text must be 1-280 characters, got {len(text)}")
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and str(reply_to) not in self.tweets:
            return self._error(400, "in_reply_to_tweet_id does not exist")
        tweet_id = self._store_tweet(self.me_id, text, str(reply_to) if reply_to else None)
        data = {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}
        return web.json_response({"data": data}, status=201)

    async def _create_dm(self, request: web.Request) -> web.Response:
        participant = request.match_info["participant_id"]
        body = await request.json()
        text = body.get("text") or ""
        if not text or len(text) > 10_000:
            return self._error(400, "text must be 1-10000 characters")
        if participant not in self.users:
            return self._error(403, "You cannot send messages to this user")
        event_id = self._store_dm(self.me_id, participant, text)
        conversation = self.dm_events[event_id]["dm_conversation_id"]
        data = {"dm_conversation_id": conversation, "dm_event_id": event_id}
        return web.json_response({"data": data}, status=201)


def x_settings(base_url: str, poll: float = 0.05, base: Settings | None = None) -> Settings:
    """``base`` (default: nothing from the environment) with the X channel on this fake.

    The fake takes any credentials; they are set only so the channel switches on.
    """
    return replace(
        base or Settings.from_env(environ={}),
        x_bearer_token=Secret("bearer-token"),
        x_api_key=Secret("key"),
        x_api_secret=Secret("secret"),
        x_access_token=Secret("access"),
        x_access_secret=Secret("access-secret"),
        x_api_url=base_url,
        x_poll_seconds=poll,
    )

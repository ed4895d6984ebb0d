"""Talking to the X API v2 through tweepy's ``AsyncClient``, at a configurable base URL.

``X_API_URL`` must be able to point the bot at a local X API emulator, but tweepy 4.17
hard-codes the host: ``AsyncBaseClient.request`` builds every URL as
``"https://api.twitter.com" + route`` and sends it with ``self.session.request(...)``
(the documented ``session`` attribute, "aiohttp client session used to make requests").
That attribute is the seam: :class:`RebasedSession` wraps our own ``aiohttp.ClientSession``
and, in its ``request``, moves each absolute ``https://api.twitter.com/...`` URL onto the
configured base, keeping the path and the already-encoded query byte for byte. Nothing of
tweepy is patched or subclassed, and with the default base the plain session is used.

OAuth 1.0a signatures are computed by tweepy over the api.twitter.com URL before the
move; an emulator only checks that credentials are present, and the real API is reached
with the default base, where nothing moves.

:func:`failure` sorts tweepy's and aiohttp's errors into what the adapter should do.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient
from yarl import URL

from bot.settings import Secret, Settings

TWITTER_BASE = "https://api.twitter.com"


class RebasedSession:
    """An ``aiohttp.ClientSession`` stand-in that sends tweepy's requests to another base."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = URL(base_url.rstrip("/"))

    def rebase(self, url: str | URL) -> URL:
        """Return ``url`` (absolute, on api.twitter.com) moved onto the configured base."""
        original = url if isinstance(url, URL) else URL(url)
        return URL.build(
            scheme=self._base.scheme,
            host=self._base.raw_host or "",
            port=self._base.explicit_port,
            path=self._base.raw_path.rstrip("/") + original.raw_path,
            query_string=original.raw_query_string,
            encoded=True,
        )

    def request(self, method: str, url: str | URL, **kwargs: Any) -> Any:
        """Forward to the wrapped session with the URL rebased (an async context manager)."""
        return self._session.request(method, self.rebase(url), **kwargs)

    @property
    def closed(self) -> bool:
        """Whether the wrapped session is closed."""
        return self._session.closed


def build_client(settings: Settings, session: aiohttp.ClientSession) -> AsyncClient:
    """Return a tweepy client for the support account, sending through ``session``.

    The client returns plain JSON dicts (``return_type=dict``) and never sleeps on rate
    limits itself: the adapter decides how to wait, so a send can go back to the outbox.
    tweepy logs every request's headers, credentials included, at DEBUG; its logger is
    held at INFO so a debug log level never writes our tokens out.
    """
    tweepy_log = logging.getLogger("tweepy.asynchronous.client")
    tweepy_log.setLevel(max(tweepy_log.level, logging.INFO))

    def reveal(secret: Secret | None) -> str | None:
        return secret.reveal() if secret is not None else None

    client = AsyncClient(
        bearer_token=reveal(settings.x_bearer_token),
        consumer_key=reveal(settings.x_api_key),
        consumer_secret=reveal(settings.x_api_secret),
        access_token=reveal(settings.x_access_token),
        access_token_secret=reveal(settings.x_access_secret),
        return_type=dict,
        wait_on_rate_limit=False,
    )
    base = settings.x_api_url.rstrip("/")
    client.session = session if base == TWITTER_BASE else RebasedSession(session, base)
    return client


@dataclass(frozen=True, slots=True)
class Account:
    """The support account the credentials belong to."""

    id: str
    username: str


async def account(client: AsyncClient) -> Account:
    """Ask X who the credentials belong to (``GET /2/users/me``)."""
    body = await client.get_me(user_auth=True)
    data = body["data"]
    return Account(id=str(data["id"]), username=str(data["username"]))


@dataclass(frozen=True, slots=True)
class Failure:
    """What a failed API call means for the caller.

    Attributes:
        wait_seconds: how long to wait before trying again (``None``: do not retry).
        ambiguous: the request may have taken effect (server error, lost connection),
            so a post must be looked for before it is sent again.
        reason: a short description without secrets, for logs and ``last_error``.
    """

    wait_seconds: float | None
    ambiguous: bool
    reason: str


def failure(exc: BaseException, backoff_seconds: float) -> Failure | None:
    """Classify ``exc`` from an API call; ``None`` when it is not an API or network error.

    429 waits until ``x-rate-limit-reset`` (plus a second of slack); 5xx, timeouts and
    connection errors wait ``backoff_seconds`` and are ambiguous; 401 waits a minute
    (credentials are an operator's fix, and giving up would lose replies); any other
    4xx is permanent.
    """
    if isinstance(exc, tweepy.TooManyRequests):
        reset = exc.reset_time
        wait = max(1.0, float(reset) - time.time() + 1.0) if reset else 60.0
        return Failure(wait, False, "429 rate limited")
    if isinstance(exc, tweepy.TwitterServerError):
        return Failure(backoff_seconds, True, f"{_status(exc)} server error")
    if isinstance(exc, tweepy.Unauthorized):
        return Failure(60.0, False, "401 unauthorized: check the X_* credentials")
    if isinstance(exc, tweepy.HTTPException):
        messages = "; ".join(str(m) for m in exc.api_messages)[:200]
        return Failure(None, False, f"{_status(exc)} {messages}".strip())
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        return Failure(backoff_seconds, True, f"network: {type(exc).__name__}")
    return None


def _status(exc: tweepy.HTTPException) -> int:
    response = exc.response
    return int(getattr(response, "status", 0) or getattr(response, "status_code", 0))

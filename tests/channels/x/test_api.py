from __future__ import annotations

import time

import aiohttp
import pytest
import tweepy
from yarl import URL

from bot.channels.x.api import RebasedSession, failure


async def test_rebase_moves_host_and_keeps_the_encoded_path_and_query() -> None:
    async with aiohttp.ClientSession() as session:
        rebased = RebasedSession(session, "http://127.0.0.1:8123/emulator/")
        signed = URL(
            "https://api.twitter.com/2/users/1/mentions?since_id=5&oauth_timestamp=1%3A2",
            encoded=True,
        )
        moved = rebased.rebase(signed)
    assert (
        str(moved)
        == "http://127.0.0.1:8123/emulator/2/users/1/mentions?since_id=5&oauth_timestamp=1%3A2"
    )
    assert str(rebased.rebase("https://api.twitter.com/2/tweets")) == (
        "http://127.0.0.1:8123/emulator/2/tweets"
    )


class _Response:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "x"
        self.headers: dict[str, str] = {}


def test_rate_limit_waits_until_the_reset_time() -> None:
    reset = int(time.time()) + 30
    exc = tweepy.TooManyRequests(_Response(429), response_json={}, reset_time=reset)
    found = failure(exc, 1.0)
    assert found is not None and not found.ambiguous
    assert found.wait_seconds is not None and 29 <= found.wait_seconds <= 32


@pytest.mark.parametrize(
    ("exc", "wait", "ambiguous"),
    [
        (tweepy.TwitterServerError(_Response(503), response_json={}), 4.0, True),
        (aiohttp.ServerDisconnectedError(), 4.0, True),
        (TimeoutError(), 4.0, True),
        (tweepy.Unauthorized(_Response(401), response_json={}), 60.0, False),
        (tweepy.Forbidden(_Response(403), response_json={"detail": "no DMs"}), None, False),
        (tweepy.BadRequest(_Response(400), response_json={}), None, False),
    ],
)
def test_failures_are_sorted_into_waits_and_permanent(
    exc: Exception, wait: float | None, ambiguous: bool
) -> None:
    found = failure(exc, 4.0)
    assert found is not None
    assert (found.wait_seconds, found.ambiguous) == (wait, ambiguous)


def test_other_errors_are_not_classified() -> None:
    assert failure(ValueError("bug"), 1.0) is None

"""How long to wait before trying again: one formula, one named policy per use.

Every retry in the service that is not told how long to wait by the other side (a 429's
reset time, Telegram's ``retry_after``) waits ``first * 2 ** (failures - 1)`` seconds,
capped: 1, 2, 4 ... 60 s by default. Exponential, so a dependency that is down is not
hammered; capped at a minute, so it is noticed soon after it is back. No jitter: the
callers are a handful of loops per process, not a crowd of clients.

The policies below name who waits, so a change to one use is made in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: ``first`` seconds after one failure, doubling up to ``cap``."""

    first: float = 1.0
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (at least one is assumed)."""
        return float(min(self.cap, self.first * 2 ** max(0, failures - 1)))


OUTBOX = Backoff()
"""A reply that failed to send; the wait is persisted as the row's ``next_attempt_at``."""

X_API = Backoff()
"""X's polling loops, the in-doubt check at start, and X sends that failed on 5xx/network."""

TELEGRAM = Backoff()
"""Telegram connecting at start, long polling, and a batch that could not be stored."""

CHILD_PROCESS = Backoff(cap=30.0)
"""A Rasa child or a ``serve --workers`` worker that died soon after starting
(:mod:`bot.supervision`); capped sooner, as customers wait while it is down."""

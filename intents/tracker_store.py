"""Rasa's conversations kept in memory, as before, but not for ever.

Rasa's own in-memory store keeps every conversation it has seen until the process
stops: about 18 KB for a five-message conversation (a Rasa process grew 541 -> 559 MB
over 1,000 of them), so a national outage's 100,000 customers would leave well over a
gigabyte per process that never came back down. This store forgets a conversation
nobody has written to for ``idle_hours``, and beyond ``max_conversations`` the one idle
longest. A customer who writes after that starts a fresh Rasa conversation (the bot
asks where they are again); our app still has every message and the subscriptions.

Configured in the endpoints file Rasa is started with (``type:
tracker_store.ExpiringTrackerStore``, plus the two limits); this folder is on Rasa's
path, as for ``location_entities``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker


class ExpiringTrackerStore(InMemoryTrackerStore):
    """Rasa's in-memory tracker store with an idle time and a size limit."""

    def __init__(
        self,
        domain: Domain,
        event_broker: EventBroker | None = None,
        idle_hours: float = 48.0,
        max_conversations: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        # Least recently saved first, so the ones to forget are always at the front.
        self.store: OrderedDict[str, str] = OrderedDict()
        self._saved_at: dict[str, float] = {}
        self._idle_seconds = float(idle_hours) * 3600
        self._max_conversations = int(max_conversations)
        self._clock = clock

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Save as Rasa does, then forget what is idle too long or beyond the limit."""
        await super().save(tracker)
        now = self._clock()
        self.store.move_to_end(tracker.sender_id)
        self._saved_at[tracker.sender_id] = now
        while self.store:
            oldest = next(iter(self.store))
            within_limit = len(self.store) <= self._max_conversations
            if within_limit and now - self._saved_at[oldest] <= self._idle_seconds:
                break
            del self.store[oldest]
            del self._saved_at[oldest]

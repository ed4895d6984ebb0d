"""Rasa's conversations kept in memory, as before, but not for ever.

Rasa's own in-memory store keeps every conversation it has seen until the process
stops: about 18 KB for a five-message conversation (a Rasa process grew 541 -> 559 MB
over 1,000 of them), so a national outage's 100,000 customers would leave well over a
gigabyte per process that never came back down. This store forgets a conversation
nobody has written to for ``idle_hours``, and beyond ``max_conversations`` the one idle
longest. A customer who writes after that starts a fresh Rasa conversation (the bot
asks where they are again); our app still has every message and the subscriptions.

It also keeps each conversation short. Everything Rasa does in a turn walks the whole
session (its rule states, the tracker sent to our actions, the tracker copied in and
out of the store as JSON), so a turn took about 1.7 ms longer for every earlier one:
200 ms by the 110th. Once a session passes ``max_session_events``, at a quiet moment
(no form running, Rasa listening), the store starts a new one as Rasa does when a
session expires: the slots carried over, then the last ``keep_turns`` turns as they
were, so the dialogue's recent context (and the count of misunderstandings in a row)
is unchanged.

Scaled out (``REDIS_URL`` set) the conversations live in Redis instead
(:class:`SharedTrackerStore`), so that any Rasa process can answer any conversation: one
that dies or reloads its model loses no customer's context. Redis forgets a conversation
idle for ``idle_hours`` (a TTL), and the same shortening keeps each one small.

Configured in the endpoints file Rasa is started with (``type:
tracker_store.ExpiringTrackerStore`` or ``tracker_store.SharedTrackerStore``, plus the
limits); this folder is on Rasa's path, as for ``location_entities``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

_CONVERSATIONS: OrderedDict[str, str] = OrderedDict()
_SAVED_AT: dict[str, float] = {}


class ExpiringTrackerStore(InMemoryTrackerStore):
    """Rasa's in-memory tracker store with an idle time and a size limit."""

    def __init__(
        self,
        domain: Domain,
        event_broker: EventBroker | None = None,
        idle_hours: float = 48.0,
        max_conversations: int = 50_000,
        max_session_events: int = 200,
        keep_turns: int = 3,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        # The process's conversations, not this store's: a model reload (Rasa's PUT
        # /model) builds a new store from the endpoints file, and the customers' context
        # must survive it. Least recently saved first, so the ones to forget lead.
        self.store: OrderedDict[str, str] = _CONVERSATIONS
        self._saved_at = _SAVED_AT
        self._idle_seconds = float(idle_hours) * 3600
        self._max_conversations = int(max_conversations)
        self._max_session_events = int(max_session_events)
        self._keep_turns = int(keep_turns)
        self._clock = clock

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Save (shortened if long), then forget what is idle too long or beyond the limit."""
        await super().save(
            shortened(tracker, self.domain, self._max_session_events, self._keep_turns)
        )
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


def shortened(
    tracker: DialogueStateTracker, domain: Domain, max_events: int, keep_turns: int
) -> DialogueStateTracker:
    """``tracker`` as a new session holding its slots and its last turns, if it is long.

    Only while Rasa listens with no form running: nothing is half done then.
    """
    quiet = tracker.active_loop_name is None and tracker.latest_action_name == (ACTION_LISTEN_NAME)
    if len(tracker.events) <= max_events or not quiet:
        return tracker
    events = list(tracker.events)
    turns = [i for i, event in enumerate(events) if isinstance(event, UserUttered)]
    if len(turns) <= keep_turns:
        return tracker
    kept = events[turns[-keep_turns] :]
    at = kept[0].timestamp
    carried: list[Event] = [
        SlotSet(slot.name, slot.value, timestamp=at)
        for slot in tracker.slots.values()
        if slot.value != slot.initial_value
    ]
    start: list[Event] = [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=at),
        SessionStarted(timestamp=at),
        *carried,
        ActionExecuted(ACTION_LISTEN_NAME, timestamp=at),
    ]
    return DialogueStateTracker.from_events(tracker.sender_id, start + kept, slots=domain.slots)


class SharedTrackerStore(RedisTrackerStore):
    """Rasa's Redis tracker store, shortened as above, forgotten after ``idle_hours``.

    Rasa's own ``save`` reads the stored conversation back and merges it with the new
    one on every turn, to keep earlier sessions its ``retrieve`` leaves out. We keep no
    earlier session (that is the point of shortening, and our app keeps every message),
    and Rasa's lock store already lets one process at a time work on a conversation,
    so a save is one write: no read, no parse, no merge.
    """

    def __init__(
        self,
        domain: Domain,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        event_broker: EventBroker | None = None,
        idle_hours: float = 48.0,
        max_session_events: int = 200,
        keep_turns: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            domain,
            host=host,
            port=int(port),
            db=int(db),
            password=password,
            event_broker=event_broker,
            record_exp=round(float(idle_hours) * 3600),
            **kwargs,
        )
        self._max_session_events = int(max_session_events)
        self._keep_turns = int(keep_turns)

    async def save(
        self,
        tracker: DialogueStateTracker,
        timeout: float | None = None,  # noqa: ASYNC109 (Rasa's name for a TTL)
    ) -> None:
        """Store the (shortened) conversation, replacing what was there, with its TTL."""
        await self.stream_events(tracker)
        tracker = shortened(tracker, self.domain, self._max_session_events, self._keep_turns)
        self.red.set(
            self.key_prefix + tracker.sender_id,
            self.serialise_tracker(tracker),
            ex=round(timeout or self.record_exp),
        )

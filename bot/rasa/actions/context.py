"""What our actions need from the rest of the service, and reading Rasa's tracker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import store as conversations
from bot.incidents.book import Incidents
from bot.incidents.view import IncidentRecord
from bot.locations.locator import Locator
from bot.messages import Renderer
from bot.models import utcnow
from bot.rasa import nlg


@dataclass(frozen=True)
class ActionDeps:
    """Dependencies shared by every action.

    Attributes:
        engine: the database.
        locator: finds area codes in what customers write.
        incidents: the incident book (its lookups are served from a live index).
        tz: the customers' time zone, for ETAs.
        responses: the canned responses every reply is rendered from.
    """

    engine: AsyncEngine
    locator: Locator
    incidents: Incidents
    tz: ZoneInfo
    responses: Renderer

    def now(self) -> datetime:
        """The current time (aware UTC)."""
        return utcnow()

    async def active_for(self, area_code: str) -> list[IncidentRecord]:
        """Open incidents for ``area_code`` or the wider code it is carved from.

        A six-digit "mixed" code such as 013873 (Langholm) lies inside 01387 (Dumfries):
        a fault filed for 01387 reaches its customers too, unless 013873 has its own.
        """
        for code in self.locator.parent_codes(area_code):
            found = await self.incidents.index.active_for(code)
            if found:
                return found
        return []


class DepsAction(Action):
    """A Rasa action built with our dependencies (rasa_sdk's own take no arguments)."""

    def __init__(self, deps: ActionDeps) -> None:
        self._deps = deps

    def say(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, key: str, **arguments: object
    ) -> None:
        """Reply with canned response ``key``, rendered here rather than by Rasa's NLG call.

        Same template, variant and values as the NLG endpoint would use; naming the
        response instead would cost Rasa one more HTTP round trip (with the whole
        tracker) per sentence.
        """
        state = {"latest_message": tracker.latest_message, "slots": tracker.slots}
        dispatcher.utter_message(text=nlg.render(self._deps.responses, key, state, arguments))


async def conversation_id(engine: AsyncEngine, tracker: Tracker) -> int | None:
    """Our conversation id, from the conversation key the router uses as Rasa's sender id."""
    conversation = await conversations.by_key(engine, str(tracker.sender_id))
    return conversation.id if conversation else None


def latest_intent(tracker: Tracker) -> str:
    """The intent Rasa read in the customer's latest message."""
    intent: dict[str, Any] = tracker.latest_message.get("intent") or {}
    return str(intent.get("name") or "")


def turns_not_understood_in_a_row(tracker: Tracker, fallback_action: str) -> int:
    """How many of the customer's latest messages in a row ``fallback_action`` answered.

    Called from that action, so the latest message (which it is answering now) counts.
    """
    count = 0
    answered_by_fallback = True
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "action" and event.get("name") == fallback_action:
            answered_by_fallback = True
        elif kind == "user":
            if not answered_by_fallback:
                break
            count += 1
            answered_by_fallback = False
    return count


def turns_in_conversation(tracker: Tracker, intent: str) -> int:
    """How many of the customer's messages in this conversation Rasa read as ``intent``."""
    return sum(
        1
        for event in tracker.events
        if event.get("event") == "user"
        and ((event.get("parse_data") or {}).get("intent") or {}).get("name") == intent
    )


def answered_question(tracker: Tracker, asking_action: str) -> bool:
    """Whether the customer's latest message answers a question ``asking_action`` put.

    True when that action ran between the customer's previous message and the latest one.
    """
    seen_latest = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_latest:
                return False
            seen_latest = True
        elif seen_latest and kind == "action" and event.get("name") == asking_action:
            return True
    return False

"""Finding the customer's area code in whatever they write, on every turn.

Rasa's entity extraction is good at spotting *that* a message has a location; our
:class:`~bot.locations.Locator` is what turns "+44 161 496 0000", "LS6" or "machester"
into an area code. ``action_locate`` is the custom slot mapping action, so it runs after
every user message and keeps the last location the customer gave.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.context import DepsAction, answered_question, latest_intent


class ActionLocate(DepsAction):
    """Set ``area_code`` and ``place`` when the latest message names a location."""

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_locate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Locate the latest message; a message without a location changes nothing."""
        text = tracker.latest_message.get("text") or ""
        location = self._deps.locator.locate(text)
        if location is None:
            return []
        return [SlotSet("area_code", location.area_code), SlotSet("place", location.place)]


class ActionAskAreaCode(DepsAction):
    """Ask for the location, differently when the customer could not or did not give it.

    Rasa's form calls this instead of a fixed ``utter_ask_area_code`` so that "I don't
    know my area code" is met with a request for the town, and a reply we could not place
    is met with "we couldn't find that", rather than the same question again.
    """

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_ask_area_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Choose the question from the latest intent and whether we asked already."""
        if latest_intent(tracker) == "dont_know":
            dispatcher.utter_message(response="utter_ask_town")
        elif answered_question(tracker, self.name()):
            dispatcher.utter_message(response="utter_location_not_found")
        else:
            dispatcher.utter_message(response="utter_ask_area_code")
        return []

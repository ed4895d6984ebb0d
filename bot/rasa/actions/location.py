"""Asking for the customer's location when the form still lacks it.

The location itself is found inside Rasa's NLU (``intents/location_entities.py`` runs
our :class:`~bot.locations.locator.Locator` on every message), so no action runs for it.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.rasa.actions.context import DepsAction, answered_question, latest_intent


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
            self.say(dispatcher, tracker, "utter_ask_town")
        elif answered_question(tracker, self.name()):
            self.say(dispatcher, tracker, "utter_location_not_found")
        else:
            self.say(dispatcher, tracker, "utter_ask_area_code")
        return []

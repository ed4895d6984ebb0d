"""Answering "is there a problem where I am?" from the incident database."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import subscriptions
from bot.incidents.view import placeholder_values
from bot.rasa.actions.context import DepsAction, conversation_id, latest_intent


class ActionCheckOutage(DepsAction):
    """Apologise with cause and ETA, say it is fixed, or say no problem is known."""

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_check_outage"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Look the customer's area code up and answer for the newest matching incident."""
        area_code = tracker.get_slot("area_code")
        if not area_code:
            self.say(dispatcher, tracker, "utter_location_not_found")
            return []
        place = tracker.get_slot("place") or self._deps.locator.place_for(area_code) or area_code
        now = self._deps.now()
        active = await self._deps.active_for(area_code)
        if active:
            incident = active[0].incident
            values = placeholder_values(
                incident, area_code=area_code, place=place, now=now, tz=self._deps.tz
            )
            if incident.eta is None:
                key = "utter_outage_no_eta"
            elif latest_intent(tracker) in ("ask_eta", "ask_if_fixed"):
                key = "utter_eta"
            else:
                key = "utter_outage"
            self.say(dispatcher, tracker, key, **values)
            self.say(dispatcher, tracker, "utter_offer_notify", **values)
            return [
                SlotSet("incident_reference", incident.reference),
                SlotSet("notify_offered", True),
            ]
        resolved = await self._deps.incidents.index.recently_resolved_for(area_code, now=now)
        if resolved:
            values = placeholder_values(
                resolved[0].incident, area_code=area_code, place=place, now=now, tz=self._deps.tz
            )
            self.say(dispatcher, tracker, "utter_resolved", **values)
        else:
            self.say(dispatcher, tracker, "utter_no_outage", area_code=area_code, place=place)
        return [SlotSet("incident_reference", None), SlotSet("notify_offered", False)]


class ActionSubscribe(DepsAction):
    """Remember to tell the customer when the fault in their area is fixed."""

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_subscribe"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Subscribe to the incident we told them about, if it is still open."""
        area_code = tracker.get_slot("area_code")
        conversation = await conversation_id(self._deps.engine, tracker)
        active = await self._deps.active_for(area_code) if area_code else []
        if not active or conversation is None:
            self.say(
                dispatcher,
                tracker,
                "utter_nothing_to_notify",
                area_code=area_code or "",
                place=tracker.get_slot("place") or area_code or "",
            )
            return [SlotSet("notify_offered", False)]
        incident = active[0].incident
        await subscriptions.subscribe(
            self._deps.engine, conversation, incident.id or 0, str(area_code)
        )
        self.say(
            dispatcher,
            tracker,
            "utter_subscribed",
            area_code=area_code,
            place=tracker.get_slot("place") or area_code,
            reference=incident.reference,
        )
        return [SlotSet("notify_offered", False)]

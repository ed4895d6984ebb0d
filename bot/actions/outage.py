"""Answering "is there a problem where I am?" from the incident database."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import incidents, subscriptions
from bot.actions.context import ActionDeps, conversation_id, latest_intent
from bot.eta import eta_phrase, past_phrase
from bot.models import Incident


def _services(incident: Incident) -> str:
    names = [name.strip() for name in incident.services.split(",") if name.strip()]
    if len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return names[0] if names else "service"


class ActionCheckOutage(Action):
    """Apologise with cause and ETA, say it is fixed, or say no problem is known."""

    def __init__(self, deps: ActionDeps) -> None:
        self._deps = deps

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_check_outage"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Look the customer's area code up and answer for the newest matching incident."""
        area_code = tracker.get_slot("area_code")
        if not area_code:
            dispatcher.utter_message(response="utter_location_not_found")
            return []
        place = tracker.get_slot("place") or self._deps.locator.place_for(area_code) or area_code
        values = {"area_code": area_code, "place": place}
        now = self._deps.now()
        active = await incidents.active_for(self._deps.engine, area_code)
        if active:
            incident = active[0]
            values |= {
                "reference": incident.reference,
                "title": incident.title,
                "cause": incident.cause or "a fault we are investigating",
                "services": _services(incident),
                "eta": eta_phrase(incident.eta, now, self._deps.tz) if incident.eta else "",
            }
            if not incident.eta:
                key = "utter_outage_no_eta"
            elif latest_intent(tracker) in ("ask_eta", "ask_if_fixed"):
                key = "utter_eta"
            else:
                key = "utter_outage"
            dispatcher.utter_message(response=key, **values)
            dispatcher.utter_message(response="utter_offer_notify", **values)
            return [
                SlotSet("incident_reference", incident.reference),
                SlotSet("notify_offered", True),
            ]
        resolved = await incidents.recently_resolved_for(self._deps.engine, area_code)
        if resolved and resolved[0].resolved_at is not None:
            incident = resolved[0]
            values |= {
                "reference": incident.reference,
                "title": incident.title,
                "cause": incident.cause,
                "services": _services(incident),
                "resolved_at": past_phrase(incident.resolved_at, now, self._deps.tz),
            }
            dispatcher.utter_message(response="utter_resolved", **values)
        else:
            dispatcher.utter_message(response="utter_no_outage", **values)
        return [SlotSet("incident_reference", None), SlotSet("notify_offered", False)]


class ActionSubscribe(Action):
    """Remember to tell the customer when the fault in their area is fixed."""

    def __init__(self, deps: ActionDeps) -> None:
        self._deps = deps

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_subscribe"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Subscribe to the incident we told them about, if it is still open."""
        area_code = tracker.get_slot("area_code")
        conversation = await conversation_id(self._deps.engine, tracker)
        active = await incidents.active_for(self._deps.engine, area_code) if area_code else []
        if not active or conversation is None:
            dispatcher.utter_message(response="utter_nothing_to_notify")
            return [SlotSet("notify_offered", False)]
        incident = active[0]
        await subscriptions.subscribe(
            self._deps.engine, conversation, incident.id or 0, str(area_code)
        )
        place = tracker.get_slot("place") or area_code
        dispatcher.utter_message(
            response="utter_subscribed",
            area_code=area_code,
            place=place,
            reference=incident.reference,
        )
        return [SlotSet("notify_offered", False)]

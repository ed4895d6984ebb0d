"""Answering "is there a problem where I am?" from the incident database."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import subscriptions
from bot.conversations import store as conversations
from bot.incidents.view import placeholder_values
from bot.models import Incident, ReportOutcome
from bot.operations import reports
from bot.rasa.actions.context import DepsAction, conversation_id, latest_intent


class ActionCheckOutage(DepsAction):
    """Apologise with cause and ETA, say it is fixed, or say no problem is known."""

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_check_outage"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Look the customer's area code up and answer for the newest matching incident.

        An abusive message that names the place (the form takes it straight here) is
        met with the same calm word as :class:`~bot.rasa.actions.handoff.ActionAnswerAbuse`
        gives, then the answer.
        """
        if latest_intent(tracker) == "abuse":
            self.say(dispatcher, tracker, "utter_calm")
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
            await self._report(tracker, area_code, ReportOutcome.INCIDENT, incident)
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
            await self._report(tracker, area_code, ReportOutcome.RESOLVED, resolved[0].incident)
        else:
            self.say(dispatcher, tracker, "utter_no_outage", area_code=area_code, place=place)
            await self._report(tracker, area_code, ReportOutcome.NO_INCIDENT, None)
        return [SlotSet("incident_reference", None), SlotSet("notify_offered", False)]

    async def _report(
        self, tracker: Tracker, area_code: str, outcome: ReportOutcome, incident: Incident | None
    ) -> None:
        """Record the customer's report with the answer it got (see bot.operations.reports)."""
        conversation = await conversations.by_key(self._deps.engine, str(tracker.sender_id))
        if conversation is None or conversation.id is None:
            return  # not one of our conversations (Rasa's own tests, a shell)
        await reports.record(
            self._deps.engine,
            conversation_id=conversation.id,
            channel=conversation.channel,
            area_code=str(area_code),
            intent=latest_intent(tracker),
            outcome=outcome,
            incident_id=incident.id if incident else None,
            text=str(tracker.latest_message.get("text") or ""),
            now=self._deps.now(),
        )


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
        if not area_code:
            # Nothing to name in "no open fault in {place}": find out where first.
            self.say(dispatcher, tracker, "utter_ask_area_code")
            return []
        conversation = await conversation_id(self._deps.engine, tracker)
        active = await self._deps.active_for(area_code)
        if not active or conversation is None:
            self.say(
                dispatcher,
                tracker,
                "utter_nothing_to_notify",
                area_code=area_code,
                place=tracker.get_slot("place") or area_code,
            )
            return [SlotSet("notify_offered", False)]
        incident = active[0].incident
        await subscriptions.subscribe(
            self._deps.engine, conversation, incident.id or 0, str(area_code), incident.eta
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

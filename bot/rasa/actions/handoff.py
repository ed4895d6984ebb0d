"""When the bot must step aside: the customer needs a person, or the bot cannot help.

Three ways lead to a person, each explainable from the tracker alone:

- The model read a hand-off intent (``request_human``, ``vulnerable``, ``billing``...):
  :class:`ActionEscalate` hands over at once, with the reason the intent names.
- The bot could not help twice in a row: :class:`ActionFallback` answers every turn the
  bot did not understand (NLU fallback, out of scope, gibberish, emoji only, another
  language, an empty or garbled message, or a turn no rule covers), and one counter of
  such turns in a row decides: the first gets a reply that says why, the second a person.
- Abuse twice: :class:`ActionAnswerAbuse` meets the first abusive message calmly and
  still helps (the outage answer when it knows where the customer is, otherwise it asks),
  and hands the second to a person with the reason ``abuse``.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.handoff.escalation import escalate, reason_for_intent
from bot.handoff.notices import place_in_queue
from bot.models import HandOffReason
from bot.rasa.actions.context import (
    ActionDeps,
    DepsAction,
    conversation_id,
    latest_intent,
    turns_in_conversation,
    turns_not_understood_in_a_row,
)
from bot.rasa.actions.outage import ActionCheckOutage

FAILURES_BEFORE_HANDOFF = 2
ABUSE_BEFORE_HANDOFF = 2
FALLBACK_ACTION = "action_fallback"

NOT_UNDERSTOOD_REPLY = {
    "out_of_scope": "utter_out_of_scope",
    "other_language": "utter_other_language",
}
"""What the bot says when it cannot help, by the intent read (for the rest, see
:meth:`ActionFallback.run`)."""


class HandOffAction(DepsAction):
    """An action that may pass the conversation to a person."""

    async def hand_off(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, reason: HandOffReason
    ) -> None:
        """Escalate the conversation; tell the customer a person will reply, and their place.

        The place is left out when there is none to give: an unknown conversation, or a
        hand-off an agent holds already. The hand-off records where the customer is and
        the incident there (:meth:`_about`).
        """
        engine = self._deps.engine
        conversation = await conversation_id(engine, tracker)
        escalation = None
        if conversation:
            area_code, incident_id = await self._about(tracker)
            escalation = await escalate(
                engine, conversation, reason, area_code=area_code, incident_id=incident_id
            )
        key = "utter_handoff_vulnerable" if reason is HandOffReason.VULNERABLE else "utter_handoff"
        self.say(dispatcher, tracker, key)
        place = await place_in_queue(engine, escalation.id or 0) if escalation else None
        if place is not None:
            self.say(dispatcher, tracker, "utter_queue_position", position=str(place))

    async def _about(self, tracker: Tracker) -> tuple[str | None, int | None]:
        """Where the customer is and the open incident there: the one they were told of.

        So agents see it beside the transcript and can answer everyone waiting about it.
        """
        area_code = tracker.get_slot("area_code")
        if not area_code:
            return None, None
        active = await self._deps.active_for(str(area_code))
        told = tracker.get_slot("incident_reference")
        chosen = next((r for r in active if r.incident.reference == told), None)
        if chosen is None and active:
            chosen = active[0]
        return str(area_code), chosen.incident.id if chosen is not None else None


class ActionEscalate(HandOffAction):
    """Queue the conversation for an agent, with the reason read from the intent."""

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Escalate; the router stops sending the conversation to Rasa from now on."""
        reason = reason_for_intent(latest_intent(tracker))
        await self.hand_off(dispatcher, tracker, reason)
        return []


class ActionFallback(HandOffAction):
    """Say why the bot cannot help once; hand over when it cannot help again."""

    def name(self) -> str:
        """Rasa's name for this action."""
        return FALLBACK_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Count from the tracker (turns this action answered), not from our own state.

        Counting the turns this action answered, rather than the intents read, keeps
        every path to it on the one counter: a new kind of "not understood" needs only
        a rule that leads here.
        """
        if turns_not_understood_in_a_row(tracker, self.name()) >= FAILURES_BEFORE_HANDOFF:
            await self.hand_off(dispatcher, tracker, HandOffReason.BOT_FAILED)
            return []
        key = NOT_UNDERSTOOD_REPLY.get(latest_intent(tracker))
        if key is None:
            # Unreadable: as the answer to the location form's "where are you?", most
            # likely a place we cannot find; otherwise we could not follow at all.
            asked_where = tracker.get_slot("requested_slot") == "area_code"
            key = "utter_location_not_found" if asked_where else "utter_rephrase"
        self.say(dispatcher, tracker, key)
        return []


class ActionAnswerAbuse(HandOffAction):
    """Answer the first abusive message calmly and helpfully; hand the next to a person."""

    def __init__(self, deps: ActionDeps) -> None:
        super().__init__(deps)
        self._outage = ActionCheckOutage(deps)

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_answer_abuse"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Hand over on repeated abuse; otherwise a calm word, then help.

        The help is the outage answer when the customer's place is known, otherwise the
        question where they are: an angry message is nearly always about the fault.
        """
        if turns_in_conversation(tracker, "abuse") >= ABUSE_BEFORE_HANDOFF:
            await self.hand_off(dispatcher, tracker, HandOffReason.ABUSE)
            return []
        if tracker.get_slot("area_code"):
            return await self._outage.run(dispatcher, tracker, domain)
        self.say(dispatcher, tracker, "utter_calm")
        self.say(dispatcher, tracker, "utter_ask_area_code")
        return []

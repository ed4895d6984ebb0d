"""When the bot must step aside: the customer needs a person."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.handoff.escalation import escalate, reason_for_intent
from bot.models import HandOffReason
from bot.rasa.actions.context import (
    DepsAction,
    consecutive_fallbacks,
    conversation_id,
    latest_intent,
)

FAILURES_BEFORE_HANDOFF = 2


class HandOffAction(DepsAction):
    """An action that may pass the conversation to a person."""

    async def hand_off(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, reason: HandOffReason
    ) -> None:
        """Escalate the conversation and tell the customer a person will reply."""
        conversation = await conversation_id(self._deps.engine, tracker)
        if conversation is not None:
            await escalate(self._deps.engine, conversation, reason)
        key = "utter_handoff_vulnerable" if reason is HandOffReason.VULNERABLE else "utter_handoff"
        self.say(dispatcher, tracker, key)


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
    """Ask the customer to rephrase once; hand over when the bot fails again."""

    def name(self) -> str:
        """Rasa's name for this action."""
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Count the misunderstandings in a row from the tracker, not from our own state."""
        if consecutive_fallbacks(tracker) >= FAILURES_BEFORE_HANDOFF:
            await self.hand_off(dispatcher, tracker, HandOffReason.BOT_FAILED)
        else:
            self.say(dispatcher, tracker, "utter_rephrase")
        return []

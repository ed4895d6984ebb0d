"""Canned answers to messages that need no understanding, or that the bot cannot read.

``/start`` and ``/help`` always get the same texts, and a sticker, photo, voice note or
file cannot be read at all. Such a message still belongs to the customer's conversation
(an agent reading the transcript sees "[photo]"), so it is stored through the inbox like
any other, deduplicated by its platform id; but asking Rasa about it would be pointless,
so the reply is a canned response (``utter_help``, ``utter_please_type``...) rendered
from the comms-edited store and queued in the outbox, which delivers it like every other
reply. When a person has the conversation the bot stays quiet, and a message over the
flood limit gets at most ``utter_slow_down``, exactly as the router does; both are
counted for ``/metrics`` as the router counts its messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.conversations.router import answer_flooded
from bot.conversations.store import Answer
from bot.inbox.store import Inbox
from bot.messages import Channel, Handled, Inbound, Renderer
from bot.models import ConversationState, MessageState
from bot.telemetry import Telemetry

log = logging.getLogger(__name__)

FALLBACK = "Sorry, I can only read typed messages. Please type your message and I'll help."
"""Said when the store has no text for the key (a shipped default is missing)."""


class CannedReplies:
    """Stores an unreadable message once and queues one canned reply to it."""

    def __init__(
        self,
        inbox: Inbox,
        responses: Renderer,
        wake: Callable[[Channel], None] = lambda channel: None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._inbox = inbox
        self._responses = responses
        self._wake = wake
        self._telemetry = telemetry

    async def handle(
        self, inbound: Inbound, key: str, values: dict[str, str] | None = None
    ) -> Handled:
        """Store ``inbound`` (once) and answer it with canned response ``key``.

        The reply is queued and the message marked answered in one transaction, as the
        router does.
        """
        received = await self._inbox.receive(inbound)
        if received is None:
            log.info("duplicate %s message %r ignored", inbound.channel, inbound.external_id)
            return Handled(conversation_id=0, state="", duplicate=True)
        conversation = received.conversation
        flooded = received.message.state == MessageState.FLOODED
        if self._telemetry is not None:
            self._telemetry.received(inbound.channel, flooded=flooded)
        if flooded:
            state, replies = await answer_flooded(
                self._inbox,
                self._responses,
                received,
                inbound.variant,
                reply_to=inbound.reply_to,
                delivered=False,
            )
            if replies:
                self._wake(inbound.channel)
            return Handled(conversation_id=conversation.id or 0, state=state, replies=replies)
        texts: list[str] = []
        if conversation.state == ConversationState.BOT:
            try:
                texts = [self._responses.render(key, inbound.variant, values)]
            except KeyError:
                log.warning("canned response %s is missing; using the built-in text", key)
                texts = [FALLBACK]
        answer = Answer(
            conversation,
            received.message.id or 0,
            texts,
            inbound.variant,
            reply_to=inbound.reply_to,
        )
        state, replies = await self._inbox.answer(answer)
        if replies:
            self._wake(inbound.channel)
        return Handled(conversation_id=conversation.id or 0, state=state, replies=replies)

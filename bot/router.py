"""The conversation router: where every customer message goes after its channel.

Store it (once) -> if a person has the conversation, leave it for them -> otherwise ask
Rasa -> queue the replies in the outbox and wake the channel's delivery loop. When Rasa
is down the customer gets a holding reply and the message stays unanswered until
:meth:`ConversationRouter.answer_unanswered` runs on Rasa's return.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import conversations
from bot.brain import BrainUnavailable
from bot.locks import ConversationLocks
from bot.messages import Channel, Handled, Inbound, Variant
from bot.models import Conversation, ConversationState, Message

log = logging.getLogger(__name__)


class Brain(Protocol):
    """What the router needs from Rasa."""

    async def respond(self, sender: str, text: str, metadata: dict[str, object]) -> list[str]:
        """Return the bot's replies to ``text`` from ``sender``."""
        ...


class Holding(Protocol):
    """Where the holding reply comes from (the canned response store)."""

    def render(self, key: str, variant: Variant, values: dict[str, str] | None = None) -> str:
        """Render a canned response."""
        ...


def _thread_under(channel: Channel, message: Message) -> str | None:
    """What a reply threads under: the tweet itself on X, the asked-for message on Telegram."""
    if channel is Channel.X:
        return message.external_id
    return message.reply_to


def _plain(text: str) -> str:
    """The customer's words, never a command to Rasa.

    Rasa reads a leading "/" as an intent to force ("/request_human", "/restart"), which
    customers must not be able to do.
    """
    stripped = text.lstrip("/").strip()
    return stripped or "?"


class ConversationRouter:
    """Routes inbound messages to the bot or to the agents, and queues the replies."""

    def __init__(
        self,
        engine: AsyncEngine,
        brain: Brain,
        responses: Holding,
        locks: ConversationLocks,
        wake: Callable[[Channel], None] = lambda channel: None,
    ) -> None:
        self._engine = engine
        self._brain = brain
        self._responses = responses
        self._locks = locks
        self._wake = wake

    async def handle(self, inbound: Inbound) -> Handled:
        """Store ``inbound`` once, answer it (or leave it for an agent), queue the replies."""
        received = await conversations.receive(self._engine, inbound)
        if received is None:
            log.info("duplicate %s message %s ignored", inbound.channel, inbound.external_id)
            return Handled(conversation_id=0, state="", duplicate=True)
        conversation = received.conversation
        async with self._locks.hold(conversation.id or 0):
            handled, _answered = await self._answer(
                conversation, received.message, inbound.variant
            )
        return handled

    async def _ask(self, conversation: Conversation, variant: str, text: str) -> list[str]:
        metadata: dict[str, object] = {"channel": conversation.channel, "variant": variant}
        return await self._brain.respond(conversation.key, _plain(text), metadata)

    async def _answer(
        self, conversation: Conversation, message: Message, variant: Variant, *, late: bool = False
    ) -> tuple[Handled, bool]:
        """Answer ``message`` under its conversation's lock; also says whether the bot did.

        ``late`` is for messages that waited for Rasa: a failure is raised rather than
        met with another holding reply, and web-chat replies wait for pick-up because
        the customer's request has long been answered.
        """
        conversation_id = conversation.id or 0
        # Re-checked under the lock: an agent may have taken the conversation, or
        # another worker answered the message, while we waited for it.
        state, waiting = await conversations.standing(self._engine, message.id or 0)
        state = state or conversation.state
        if state != ConversationState.BOT:
            # A person has (or will have) this conversation: the bot stays quiet.
            if waiting:
                await conversations.mark_processed(self._engine, message.id or 0)
            return Handled(conversation_id=conversation_id, state=state), False
        if not waiting:
            return Handled(conversation_id=conversation_id, state=state), False
        processed = True
        try:
            texts = await self._ask(conversation, variant.value, message.text)
        except BrainUnavailable as exc:
            if late:
                raise
            log.warning("conversation %s waits for Rasa: %s", conversation_id, exc)
            texts = [self._responses.render("utter_holding", variant)]
            processed = False
        channel = Channel(conversation.channel)
        delivered = channel is Channel.WEB and not late
        state, replies = await conversations.answer(
            self._engine,
            conversation,
            message.id or 0,
            texts,
            variant,
            processed=processed,
            reply_to=_thread_under(channel, message),
            delivered=delivered,
        )
        if replies and not delivered:
            self._wake(channel)
        return Handled(conversation_id=conversation_id, state=state, replies=replies), processed

    async def answer_unanswered(self) -> int:
        """Answer messages that arrived while Rasa was down; returns how many were answered.

        Stops at the first failure so that order is kept when Rasa goes away again.
        """
        answered = 0
        for message in await conversations.unanswered(self._engine):
            conversation = await conversations.get(self._engine, message.conversation_id)
            if conversation is None:
                continue
            variant = Variant(message.context or Variant.DEFAULT.value)
            async with self._locks.hold(message.conversation_id):
                try:
                    _handled, did = await self._answer(conversation, message, variant, late=True)
                except BrainUnavailable:
                    break
            answered += did
        return answered

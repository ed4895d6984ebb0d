"""The conversation router: where every customer message goes after its channel.

Store it (once) -> if a person has the conversation, leave it for them -> if it is over
the flood limit, keep it from Rasa (:mod:`bot.conversations.flood`) -> otherwise ask
Rasa -> queue the replies in the outbox and wake the channel's delivery loop. When Rasa
is down the customer gets a holding reply and the message waits until
:meth:`ConversationRouter.answer_unanswered` finds Rasa back (it looks every few seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import store as conversations
from bot.conversations.flood import SLOW_DOWN
from bot.conversations.locks import ConversationLocks
from bot.conversations.store import Answer, Received
from bot.delivery.outbox import pick_up
from bot.inbox.store import Inbox
from bot.messages import Channel, Handled, Inbound, Outbound, Renderer, Variant
from bot.models import Conversation, ConversationState, Message, MessageState
from bot.rasa.brain import BrainUnavailable
from bot.telemetry import Telemetry

log = logging.getLogger(__name__)


class Brain(Protocol):
    """What the router needs from Rasa."""

    async def respond(self, sender: str, text: str, metadata: dict[str, object]) -> list[str]:
        """Return the bot's replies to ``text`` from ``sender``."""
        ...


def _thread_under(channel: Channel, message: Message) -> str | None:
    """What a reply threads under: the tweet itself on X, the asked-for message on Telegram."""
    if channel is Channel.X:
        return message.external_id
    return message.reply_to


def _lock_name(channel: str, external_user_id: str) -> str:
    """The conversation's lock, named before the database is asked (it is unique per customer)."""
    return f"{channel}:{external_user_id}"


def _plain(text: str) -> str:
    """The customer's words, never a command to Rasa.

    Rasa reads a leading "/" as an intent to force ("/request_human", "/restart"), which
    customers must not be able to do.
    """
    stripped = text.lstrip("/").strip()
    return stripped or "?"


async def answer_flooded(
    inbox: Inbox,
    responses: Renderer,
    received: Received,
    variant: Variant,
    reply_to: str | None,
    delivered: bool,
) -> tuple[str, list[Outbound]]:
    """Answer a flooded message: ``utter_slow_down`` to the first of a flood, nothing to the rest.

    The message stays flooded either way. The rest cost no second write at all: the one
    that stored them (waiting for the disk on PostgreSQL, where no answer's commit will
    take it there) is all a flood gets. Returns the conversation's state and the replies.
    """
    conversation = received.conversation
    if not received.slow_down:
        return conversation.state, []
    return await inbox.answer(
        Answer(
            conversation,
            received.message.id or 0,
            [responses.render(SLOW_DOWN, variant)],
            variant,
            leaves=MessageState.FLOODED,
            reply_to=reply_to,
            delivered=delivered,
        )
    )


class ConversationRouter:
    """Routes inbound messages to the bot or to the agents, and queues the replies."""

    def __init__(
        self,
        engine: AsyncEngine,
        inbox: Inbox,
        brain: Brain,
        responses: Renderer,
        locks: ConversationLocks,
        wake: Callable[[Channel], None] = lambda channel: None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._engine = engine
        self._telemetry = telemetry
        self._inbox = inbox
        self._brain = brain
        self._responses = responses
        self._locks = locks
        self._wake = wake

    async def handle(self, inbound: Inbound) -> Handled:
        """Store ``inbound`` once, answer it (or leave it for an agent), queue the replies.

        The lock is taken before the message is stored, so the conversation's state that
        storing reads back is current: nobody can have answered the message or (short of
        an agent acting this very moment, as at any time) taken the conversation since.
        """
        async with self._locks.hold(_lock_name(inbound.channel.value, inbound.external_user_id)):
            received = await self._inbox.receive(inbound)
            if received is None:
                handled = await self._delivered_again(inbound)
            else:
                flooded = received.message.state == MessageState.FLOODED
                if self._telemetry is not None:
                    self._telemetry.received(inbound.channel, flooded=flooded)
                conversation = received.conversation
                if flooded:
                    handled = await self._flooded(received, inbound.variant)
                else:
                    handled, _answered = await self._answer(
                        conversation, received.message, inbound.variant, conversation.state
                    )
        if self._telemetry is not None and inbound.channel is Channel.WEB:
            self._telemetry.sent(Channel.WEB, len(handled.replies))  # they go in the response
        return handled

    async def _delivered_again(self, inbound: Inbound) -> Handled:
        """A message received before: answered now if its first delivery was left unanswered.

        We hold the conversation's lock, so nobody else is answering it: a crash left it
        (a worker killed mid-answer, and the customer sent it again). Otherwise it is
        not processed again, and a web customer gets what waits for them instead, such
        as the answer the catch-up gave it.
        """
        log.info("duplicate %s message %r", inbound.channel, inbound.external_id)
        first = await conversations.first_delivery(self._engine, inbound)
        if first is None:
            return Handled(conversation_id=0, state="", duplicate=True)
        conversation, message = first
        state, waiting = await conversations.standing(self._engine, message.id or 0)
        if waiting:
            handled, _answered = await self._answer(conversation, message, inbound.variant, state)
            return replace(handled, duplicate=True)
        replies = []
        if inbound.channel is Channel.WEB:
            async with self._engine.begin() as connection:
                replies = await pick_up(connection, conversation)
        return Handled(conversation.id or 0, state, replies, duplicate=True)

    async def _flooded(self, received: Received, variant: Variant) -> Handled:
        """A message over the flood limit: never to Rasa; the first of a flood is told so."""
        conversation = received.conversation
        channel = Channel(conversation.channel)
        state, replies = await answer_flooded(
            self._inbox,
            self._responses,
            received,
            variant,
            reply_to=_thread_under(channel, received.message),
            delivered=channel is Channel.WEB,
        )
        if replies and channel is not Channel.WEB:
            self._wake(channel)
        return Handled(conversation_id=conversation.id or 0, state=state, replies=replies)

    async def _ask(self, conversation: Conversation, variant: str, text: str) -> list[str]:
        metadata: dict[str, object] = {"channel": conversation.channel, "variant": variant}
        return await self._brain.respond(conversation.key, _plain(text), metadata)

    async def _answer(
        self,
        conversation: Conversation,
        message: Message,
        variant: Variant,
        state: str,
        *,
        late: bool = False,
    ) -> tuple[Handled, bool]:
        """Answer a waiting ``message`` under its conversation's lock; says if the bot did.

        ``state`` is the conversation's, read under the lock. ``late`` is for messages that
        waited for Rasa: a failure is raised rather than met with another holding reply,
        and web-chat replies wait for pick-up because the customer's request has long been
        answered.
        """
        conversation_id = conversation.id or 0
        texts: list[str] = []
        processed = True
        asked = state == ConversationState.BOT
        # Otherwise a person has (or will have) this conversation: the bot stays quiet.
        if asked:
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
        state, replies = await self._inbox.answer(
            Answer(
                conversation,
                message.id or 0,
                texts,
                variant,
                leaves=MessageState.PROCESSED if processed else MessageState.WAITING,
                reply_to=_thread_under(channel, message),
                delivered=delivered,
            )
        )
        if replies and not delivered:
            self._wake(channel)
        handled = Handled(conversation_id=conversation_id, state=state, replies=replies)
        return handled, asked and processed

    async def answer_unanswered(self) -> int:
        """Answer what waited for Rasa or a crash left; returns how many were answered.

        Oldest first. When one fails again, the rest of its conversation keeps waiting
        (its order is kept) while other conversations carry on, so with several Rasa
        processes one restarting holds up only its own customers. The brain turns a
        server that has just failed away at once (:class:`bot.rasa.brain.RasaBrain`), so a
        Rasa down altogether costs one attempt per server, not a timeout per message.
        """
        answered = 0
        stalled: set[int] = set()
        for message in await conversations.unanswered(self._engine):
            if message.conversation_id in stalled:
                continue
            conversation = await conversations.get(self._engine, message.conversation_id)
            if conversation is None:
                continue
            variant = Variant(message.variant or Variant.DEFAULT.value)
            name = _lock_name(conversation.channel, conversation.external_user_id)
            async with self._locks.hold(name):
                # Re-checked under the lock: an agent may have taken the conversation, or
                # another worker answered the message, since the list was read.
                state, waiting = await conversations.standing(self._engine, message.id or 0)
                if not waiting:
                    continue
                try:
                    _handled, did = await self._answer(
                        conversation, message, variant, state, late=True
                    )
                except BrainUnavailable:
                    stalled.add(message.conversation_id)
                    continue
            answered += did
        return answered

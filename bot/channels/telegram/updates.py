"""What each kind of Telegram message becomes: PTB handlers that translate, nothing more.

- Text in a private chat goes to the router as the customer wrote it.
- ``/start`` and ``/help`` are answered with the comms-edited ``utter_greet`` and
  ``utter_help`` straight from the response store (they need no understanding, and
  this works the same whatever the Rasa model calls its intents); any other command is
  treated as ``/help``.
- A shared location becomes "I'm in Leeds (0113)", the nearest major town
  (:mod:`bot.locations.nearest_town`), told to the bot as if typed.
- Stickers, photos, voice notes, files and the like get the canned "please type your
  message" (``utter_please_type``) and are kept in the transcript as "[photo]" etc.
- In groups and supergroups the bot speaks only when @mentioned or replied to; the
  group is one conversation and replies thread under the message that asked.

Each update is stored by the router (or the canned replies) before its handler returns.
:meth:`UpdateHandlers.process` reports whether that happened, so the channel confirms
an update to Telegram only once it is safe in the database.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from telegram import Message, MessageEntity, Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.locations.nearest_town import NearestTown
from bot.messages import Channel, Handled, Inbound, Router, Variant
from bot.untrusted import storable

log = logging.getLogger(__name__)

COMMAND_RESPONSES = {"start": "utter_greet", "help": "utter_help"}
"""The canned response each command is answered with."""

PLEASE_TYPE = "utter_please_type"
LOCATION_NOT_FOUND = "utter_location_not_found"

_MEDIA_LABELS = (
    ("sticker", "[sticker]"),
    ("photo", "[photo]"),
    ("voice", "[voice message]"),
    ("video_note", "[video message]"),
    ("video", "[video]"),
    ("animation", "[animation]"),
    ("audio", "[audio]"),
    ("document", "[document]"),
    ("contact", "[contact]"),
    ("poll", "[poll]"),
)


class CannedRouter(Protocol):
    """Answers a message with a canned response (``bot.channels.canned.CannedReplies``)."""

    async def handle(
        self, inbound: Inbound, key: str, values: dict[str, str] | None = None
    ) -> Handled:
        """Store ``inbound`` once and queue canned response ``key`` as the reply."""
        ...


@dataclass
class _Outcome:
    failed: bool = False


_outcome: ContextVar[_Outcome | None] = ContextVar("telegram_update_outcome", default=None)


def inbound_for(message: Message, text: str) -> Inbound:
    """Return the channel-neutral form of ``message`` carrying ``text``.

    The message id is per chat in Telegram, hence ``chat_id:message_id`` as the
    platform id the inbox deduplicates on. What the customer wrote, and their name, may
    hold NULs and lone surrogates that Telegram passes on; they are mended here
    (:func:`bot.untrusted.storable`), before anything stores them.
    """
    chat = message.chat
    private = chat.type == chat.PRIVATE
    if private:
        name = message.from_user.full_name if message.from_user else ""
    else:
        name = chat.title or "a Telegram group"
    return Inbound(
        channel=Channel.TELEGRAM,
        external_user_id=str(chat.id),
        text=storable(text),
        external_id=f"{chat.id}:{message.message_id}",
        variant=Variant.TELEGRAM,
        reply_to=None if private else str(message.message_id),
        display_name=storable(name),
    )


def addressed(message: Message, bot_id: int, bot_username: str) -> bool:
    """Whether the bot should answer: always in private, in groups only when addressed."""
    if message.chat.type == message.chat.PRIVATE:
        return True
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == bot_id:
        return True
    handle = f"@{bot_username}".lower()
    kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    for parse in (message.parse_entities, message.parse_caption_entities):
        for entity, text in parse(kinds).items():
            if entity.type == MessageEntity.MENTION and text.lower() == handle:
                return True
            if entity.user is not None and entity.user.id == bot_id:
                return True
    first_word = (message.text or "").split(maxsplit=1)[:1]
    return (
        bool(first_word)
        and first_word[0].startswith("/")
        and first_word[0].lower().endswith(handle)
    )


def without_mention(text: str, bot_username: str) -> str:
    """Return ``text`` with ``@bot`` removed and spaces tidied."""
    handle = re.escape(f"@{bot_username}")
    return " ".join(re.sub(handle, " ", text, flags=re.IGNORECASE).split())


class UpdateHandlers:
    """The PTB handlers of the Telegram channel, with what they hand messages to.

    Args:
        router: the conversation router (stores, asks Rasa, queues replies).
        canned: answers messages the bot cannot read with a canned response.
        towns: resolves shared locations; ``None`` answers them with
            ``utter_location_not_found``.
    """

    def __init__(
        self, router: Router, canned: CannedRouter, towns: NearestTown | None = None
    ) -> None:
        self._router = router
        self._canned = canned
        self._towns = towns

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register the handlers (first match wins) and the error handler."""
        application.add_handler(CommandHandler(list(COMMAND_RESPONSES), self._on_command))
        application.add_handler(MessageHandler(filters.COMMAND, self._on_command))
        application.add_handler(MessageHandler(filters.TEXT, self._on_text))
        application.add_handler(MessageHandler(filters.LOCATION, self._on_location))
        application.add_handler(MessageHandler(filters.ATTACHMENT, self._on_media))
        application.add_error_handler(self._on_error)

    async def process(
        self, application: Application[Any, Any, Any, Any, Any, Any], update: Update
    ) -> bool:
        """Run ``update`` through ``application``'s handlers; ``False`` if a handler failed."""
        outcome = _Outcome()
        token = _outcome.set(outcome)
        try:
            await application.process_update(update)
        finally:
            _outcome.reset(token)
        return not outcome.failed

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Mark the update as failed (so it is not confirmed) and log why."""
        outcome = _outcome.get()
        if outcome is not None:
            outcome.failed = True
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram update %s failed", update_id, exc_info=context.error)

    def _message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Message | None:
        message = update.effective_message
        if message is None or not addressed(message, context.bot.id, context.bot.username):
            return None
        return message

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help get their canned answers; any other command is treated as /help."""
        if (message := self._message(update, context)) is None:
            return
        text = message.text or "/help"
        command = text.split()[0][1:].split("@")[0].lower()
        key = COMMAND_RESPONSES.get(command, COMMAND_RESPONSES["help"])
        name = storable(message.from_user.first_name) if message.from_user else ""
        await self._canned.handle(inbound_for(message, text), key, {"name": name})

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Customer text goes to the router (in groups only when the bot is addressed)."""
        if (message := self._message(update, context)) is None:
            return
        text = without_mention(message.text or "", context.bot.username)
        if not text:  # only "@bot": as good as /help
            inbound = inbound_for(message, message.text or "")
            await self._canned.handle(inbound, COMMAND_RESPONSES["help"])
            return
        await self._router.handle(inbound_for(message, text))

    async def _on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A shared location becomes the nearest town, told to the bot as if typed."""
        message = self._message(update, context)
        if message is None or message.location is None:
            return
        town = None
        if self._towns is not None:
            town = self._towns.nearest(message.location.latitude, message.location.longitude)
        if town is None:
            await self._canned.handle(inbound_for(message, "[location]"), LOCATION_NOT_FOUND)
            return
        text = f"I'm in {town.place} ({town.area_code})"
        await self._router.handle(inbound_for(message, text))

    async def _on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice notes, files: a polite "please type your message"."""
        if (message := self._message(update, context)) is None:
            return
        label = next(
            (label for attribute, label in _MEDIA_LABELS if getattr(message, attribute, None)),
            "[attachment]",
        )
        await self._canned.handle(inbound_for(message, label), PLEASE_TYPE)

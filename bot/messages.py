"""The channel-neutral shape of a message, which every channel adapter translates to and from.

Adapters (``bot/channels/*``) turn platform payloads into :class:`Inbound` and hand them to
the conversation router; the router answers with :class:`Outbound` rows stored in the
outbox, which the adapter delivers. Nothing here knows about Telegram, X or aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    """Where a customer writes from."""

    WEB = "web"
    TELEGRAM = "telegram"
    X = "x"


class Variant(StrEnum):
    """Which text of a canned response fits: each channel has its own limits and tone.

    The vocabulary: a *channel* is where the customer writes from (:class:`Channel`); a
    *variant* is the form a reply takes there (X has two: public and DM). Messages carry
    their variant as ``Message.variant`` (stored in the column ``context``, its first name).
    """

    DEFAULT = "default"
    TELEGRAM = "telegram"
    X_PUBLIC = "x_public"
    X_DM = "x_dm"
    WEB = "web"


@dataclass(frozen=True, slots=True)
class Inbound:
    """A customer's message as received.

    Attributes:
        channel: the platform it came from.
        external_user_id: the platform's id of the customer (chat id, X user id, web id).
        text: what they wrote, as written.
        external_id: the platform's id of this message; ``None`` only for web chat.
        variant: which response variant replies must use (``x_public`` for mentions).
        reply_to: the platform message a reply should thread under, if any.
        display_name: how the customer is shown to agents.
    """

    channel: Channel
    external_user_id: str
    text: str
    external_id: str | None = None
    variant: Variant = Variant.DEFAULT
    reply_to: str | None = None
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class Outbound:
    """One reply waiting in, or delivered from, the outbox."""

    message_id: int
    conversation_id: int
    channel: Channel
    external_user_id: str
    text: str
    variant: Variant = Variant.DEFAULT
    reply_to: str | None = None


@dataclass(slots=True)
class Handled:
    """What the router did with an inbound message.

    Attributes:
        conversation_id: the customer's conversation.
        state: the conversation's state after this message.
        replies: the replies queued (already in the outbox, in order).
        duplicate: the message had been received before and was not processed again.
    """

    conversation_id: int
    state: str
    replies: list[Outbound] = field(default_factory=list)
    duplicate: bool = False


class Router(Protocol):
    """What a channel adapter needs from the conversation router."""

    async def handle(self, inbound: Inbound) -> Handled:
        """Store ``inbound`` (once), run it through the bot or the agent queue, queue replies."""
        ...


class Renderer(Protocol):
    """The canned response store as every reply-writer sees it (router, NLG, channels).

    Declared once here, next to :class:`Variant`, so the router, Rasa's NLG and the
    channel adapters depend on the same one-method view of
    :class:`bot.responses.store.ResponseStore` rather than each on its own copy.
    """

    def render(self, key: str, variant: Variant, values: dict[str, str] | None = None) -> str:
        """Render the ``variant`` text of canned response ``key`` with ``values``."""
        ...

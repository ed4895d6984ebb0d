"""The Core statements on the conversation and message tables, shared by every inbox path.

Built once: the ORM's flush and loading machinery, and building the expressions, cost
more than these small statements do. Two kinds of caller run them: the engine path
(:mod:`bot.conversations.store`) through SQLAlchemy, and the inboxes that call a driver
directly (:mod:`bot.inbox.sqlite`, :mod:`bot.inbox.postgres`), which compile them once per
dialect (:mod:`bot.inbox.statements`), so the paths cannot drift apart. Each statement
comes with the function that builds its parameters or rows, and :func:`queued` turns
what an insert of replies returned into the replies to deliver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, case, exists, insert, select, update

from bot.delivery.outbox import addressed
from bot.messages import Inbound, Outbound, Variant
from bot.models import Conversation, ConversationState, Message, MessageState, new_key

CONVERSATION_TABLE: Table = Conversation.__table__  # type: ignore[attr-defined]
MESSAGE_TABLE: Table = Message.__table__  # type: ignore[attr-defined]
INSERT_REPLIES = insert(MESSAGE_TABLE).returning(MESSAGE_TABLE.c.id, sort_by_parameter_order=True)
# One row needs no RETURNING: SQLite hands back the new id itself (lastrowid), which
# saves fetching a result from aiosqlite's thread; PostgreSQL returns it either way.
INSERT_INBOUND = insert(MESSAGE_TABLE)
INSERT_CONVERSATION = insert(CONVERSATION_TABLE).returning(CONVERSATION_TABLE.c.id)

_CLOSED = CONVERSATION_TABLE.c.state == ConversationState.CLOSED.value

# Touch the customer's conversation and hand it back in one statement: a closed one
# reopens with the bot (the SET expressions all see the row as it was).
TOUCH = (
    update(CONVERSATION_TABLE)
    .where(
        CONVERSATION_TABLE.c.channel == bindparam("touch_channel"),
        CONVERSATION_TABLE.c.external_user_id == bindparam("touch_user"),
    )
    .values(
        updated_at=bindparam("touch_now"),
        state=case((_CLOSED, ConversationState.BOT.value), else_=CONVERSATION_TABLE.c.state),
        failures=case((_CLOSED, 0), else_=CONVERSATION_TABLE.c.failures),
    )
    .returning(*CONVERSATION_TABLE.c)
)


STORED = select(MESSAGE_TABLE.c.id).where(
    MESSAGE_TABLE.c.channel == bindparam("stored_channel"),
    MESSAGE_TABLE.c.external_id == bindparam("stored_external_id"),
)


def touch_params(inbound: Inbound, now: datetime) -> dict[str, Any]:
    """:data:`TOUCH`'s parameters for the conversation ``inbound`` belongs to."""
    return {
        "touch_channel": inbound.channel.value,
        "touch_user": inbound.external_user_id,
        "touch_now": now,
    }


def conversation_row(inbound: Inbound, now: datetime) -> dict[str, Any]:
    """The row of the conversation ``inbound`` starts (:data:`INSERT_CONVERSATION`)."""
    return {
        "key": new_key(),
        "channel": inbound.channel.value,
        "external_user_id": inbound.external_user_id,
        "display_name": inbound.display_name[:200],
        "state": ConversationState.BOT.value,
        "failures": 0,
        "created_at": now,
        "updated_at": now,
    }


def inbound_row(inbound: Inbound, conversation_id: int, now: datetime) -> dict[str, Any]:
    """The message row of ``inbound`` (:data:`INSERT_INBOUND`, every column but the id)."""
    return {
        "conversation_id": conversation_id,
        "channel": inbound.channel.value,
        "direction": "in",
        "author": "customer",
        "text": inbound.text,
        "external_id": inbound.external_id,
        "reply_to": inbound.reply_to,
        "variant": inbound.variant.value,
        "state": MessageState.RECEIVED,
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": "",
        "created_at": now,
        "sent_at": None,
    }


def stored_params(inbound: Inbound) -> dict[str, Any]:
    """:data:`STORED`'s parameters: is this platform message in the inbox already?"""
    return {"stored_channel": inbound.channel.value, "stored_external_id": inbound.external_id}


_WAITING_REPLY = MESSAGE_TABLE.alias("waiting_reply")
# Answering ends in one statement that also reads what the answer needs to know: the
# conversation's state as the brain left it, and whether any other reply waits for
# pick-up (rarely), so that the pick-up itself is skipped when there is none. The
# subqueries name the conversation by parameter: SQLite renders RETURNING columns
# unqualified, so a correlated subquery could not tell the two message tables apart.
ANSWERED = (
    update(MESSAGE_TABLE)
    .where(MESSAGE_TABLE.c.id == bindparam("answered_id"))
    .values(state=bindparam("answered_state"))
    .returning(
        select(CONVERSATION_TABLE.c.state)
        .where(CONVERSATION_TABLE.c.id == bindparam("answered_conversation"))
        .scalar_subquery()
        .label("conversation_state"),
        exists()
        .where(
            _WAITING_REPLY.c.conversation_id == bindparam("answered_conversation"),
            _WAITING_REPLY.c.direction == "out",
            _WAITING_REPLY.c.state == MessageState.PENDING,
        )
        .label("replies_waiting"),
    )
)


def reply_rows(
    conversation: Conversation,
    texts: Sequence[str],
    variant: Variant,
    reply_to: str | None,
    author: str,
    delivered: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """The outbox rows of ``texts`` (:data:`INSERT_REPLIES`), in order; blank ones dropped."""
    return [
        {
            "conversation_id": conversation.id or 0,
            "channel": conversation.channel,
            "direction": "out",
            "author": author,
            "text": text,
            "external_id": None,
            "reply_to": reply_to,
            "variant": variant.value,
            "state": MessageState.SENT if delivered else MessageState.PENDING,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": "",
            "created_at": now,
            "sent_at": now if delivered else None,
        }
        for text in texts
        if text.strip()
    ]


def queued(
    conversation: Conversation, rows: Sequence[Mapping[str, Any]], ids: Sequence[int]
) -> list[Outbound]:
    """The replies just stored as ``rows`` with ``ids``, addressed to the customer."""
    return [
        addressed(conversation, message_id, row["text"], Variant(row["variant"]), row["reply_to"])
        for message_id, row in zip(ids, rows, strict=True)
    ]

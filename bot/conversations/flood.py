"""The flood limit: one customer typing faster than anyone reads cannot eat everyone's Rasa.

A conversation the bot answers may send ``limit`` messages in any rolling minute. Each
one beyond that is stored like any other (agents see it in the transcript) but as
``flooded``: it never goes to Rasa, and nothing answers it later, neither the catch-up
nor a redelivery. The first of a flood gets one canned reply, ``utter_slow_down``; the
rest get none (:func:`bot.conversations.router.answer_flooded`). A conversation a person
has (escalated, with an agent) is never held back.

The count is taken where the message is stored, in the same statement or transaction,
under the conversation's lock: so it is the database's, the same for every worker, and
costs no round trip of its own. It reads ``limit`` entries of the partial index of
inbound messages on (conversation, direction, time) and one row for the message before.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Column,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    literal_column,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from bot.models import ConversationState, Message, MessageState

WINDOW = timedelta(minutes=1)
SLOW_DOWN = "utter_slow_down"
"""The one reply to a flood (comms-editable, ``data/responses.toml``)."""

_MESSAGE: Table = Message.__table__  # type: ignore[attr-defined]


def _inbound_of(conversation_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The conversation's inbound messages, in the words of the index's own condition.

    ``'in'`` is written into the SQL, not bound: a partial index serves only a query whose
    condition says what the index's does, before any parameter is known.
    """
    inbound = _MESSAGE.c.direction == literal_column("'in'")
    return and_(_MESSAGE.c.conversation_id == conversation_id, inbound)


def _latest(conversation_id: ColumnElement[Any], column: Column[Any], offset: Any) -> Any:
    """``column`` of the conversation's inbound message ``offset`` places before the latest.

    Ordered by time alone, as the index is, so that PostgreSQL too reads the index only.
    """
    return (
        select(column)
        .where(_inbound_of(conversation_id))
        .order_by(_MESSAGE.c.created_at.desc())
        .limit(1)
        .offset(offset)
        .scalar_subquery()
    )


def previous(conversation_id: ColumnElement[Any]) -> ColumnElement[str]:
    """The state of the conversation's latest inbound message (``NULL`` before the first)."""
    return cast(ColumnElement[str], _latest(conversation_id, _MESSAGE.c.state, 0))


def state(
    conversation_id: ColumnElement[Any], conversation_state: ColumnElement[Any]
) -> ColumnElement[str]:
    """The state a new inbound message is stored in: ``flooded`` over the limit, else ``received``.

    Over the limit means the conversation's ``limit``-th latest inbound message (before
    this one) is less than a minute old: ``limit`` of them came in the last minute. That
    reads ``limit`` index entries backwards, however many there were. A flood's own
    messages count, so a customer who keeps it up stays held back until a minute goes by
    at a calmer pace. Only while the bot answers the conversation; a limit of 0 is none.
    """
    nth = _latest(conversation_id, _MESSAGE.c.created_at, bindparam("flood_offset", type_=Integer))
    over = and_(
        conversation_state == ConversationState.BOT.value,
        bindparam("flood_limit", type_=Integer) > 0,
        nth > bindparam("flood_since", type_=_MESSAGE.c.created_at.type),
    )
    return case((over, MessageState.FLOODED.value), else_=MessageState.RECEIVED.value)


def params(limit: int, now: datetime) -> dict[str, Any]:
    """The parameters of :func:`state` for a message stored at ``now``."""
    return {"flood_limit": limit, "flood_offset": max(limit - 1, 0), "flood_since": now - WINDOW}


_CONVERSATION = bindparam("flood_conversation", type_=Integer)
CHECK = select(
    state(_CONVERSATION, bindparam("flood_conversation_state", type_=String)).label("state"),
    previous(_CONVERSATION).label("previous"),
)
"""For a conversation already found: the new message's state, and the state of the one before."""


def conversation_params(conversation_id: int, conversation_state: str) -> dict[str, Any]:
    """:data:`CHECK`'s parameters beyond :func:`params`: the conversation already found."""
    return {"flood_conversation": conversation_id, "flood_conversation_state": conversation_state}


def check_params(
    limit: int, now: datetime, conversation_id: int, conversation_state: str
) -> dict[str, Any]:
    """:data:`CHECK`'s parameters, for a message to ``conversation_id`` stored at ``now``."""
    return {**params(limit, now), **conversation_params(conversation_id, conversation_state)}


def slows_down(stored_as: str, before: str | None) -> bool:
    """Whether a message stored as ``stored_as`` is the first of a flood.

    ``before`` is the state of the conversation's inbound message before it (:func:`previous`).

    A flood that goes on keeps the one ``utter_slow_down`` it got; one that starts after
    the customer calmed down (a message went through) gets its own.
    """
    return stored_as == MessageState.FLOODED and before != MessageState.FLOODED

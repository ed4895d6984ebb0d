"""One answer to every customer waiting about the same incident, each through their own channel.

In a surge most of the queue asks the same thing ("when will it be fixed?"). An agent
writes the answer once; it goes to every customer whose hand-off is about the incident
(:mod:`bot.handoff.about`) and whom nobody else holds: those still waiting for an agent,
and those the agent holds. Customers a colleague holds are theirs to answer.

Each customer gets an ordinary agent reply: in the outbox in their channel's form (a DM
on X), in their transcript signed by the agent, and in the audit trail. The hand-offs
stay in the queue, unclaimed: one answer to all is not a conversation with each, and any
agent may still take any of them up.

Everything is one transaction, with the agent's idempotency key in it: pressing the
button twice, or a retried request, finds the first answer and sends nothing again.
When two requests with one key race, the unique key lets one commit and the other
learns what the first sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from bot.audit import Action
from bot.conversations.statements import INSERT_REPLIES, queued, reply_rows
from bot.handoff.about import is_about
from bot.handoff.queue import (
    MAX_REPLY,
    REPLY_VARIANT,
    HandoffError,
    HandoffNotFound,
    QueueEntry,
    agent_author,
    queue_in,
)
from bot.incidents.view import IncidentRecord
from bot.messages import Channel, Outbound
from bot.models import (
    AuditEntry,
    BulkAnswer,
    Conversation,
    Incident,
    IncidentArea,
    User,
    utcnow,
)

_BULK: Table = BulkAnswer.__table__  # type: ignore[attr-defined]
_INCIDENT: Table = Incident.__table__  # type: ignore[attr-defined]

KEY_MAX = 100
"""The longest idempotency key kept (a UUID is 36 characters)."""


@dataclass(frozen=True, slots=True)
class Answered:
    """What one answer to everyone waiting did.

    Attributes:
        reference: the incident.
        conversations: who got the answer (conversation ids, in queue order).
        replayed: the key was used before: this is what the first request sent, and
            nothing was sent now.
        replies: the replies queued now, for waking their channels (none when replayed).
    """

    reference: str
    conversations: tuple[int, ...]
    replayed: bool
    replies: tuple[Outbound, ...] = ()

    def to_public(self) -> dict[str, Any]:
        """The ``POST /api/incidents/{reference}/answer`` shape."""
        return {
            "incident": self.reference,
            "sent": len(self.conversations),
            "conversations": list(self.conversations),
            "replayed": self.replayed,
        }


def waiting_about(
    record: IncidentRecord, entries: Iterable[QueueEntry], agent: User
) -> list[QueueEntry]:
    """The queue's customers one answer about ``record`` reaches: once each, in queue order.

    Those about the incident whom no other agent holds.
    """
    chosen: dict[int, QueueEntry] = {}
    for entry in entries:
        if entry.answerable_by(agent) and is_about(record, entry.area_code, entry.incident_id):
            chosen.setdefault(entry.conversation_id, entry)
    return list(chosen.values())


def check(text: str, key: str) -> str:
    """Return the answer's text as sent (trimmed), or say why it cannot be sent.

    Raises:
        HandoffError: the text is empty or too long, or the key is empty or too long.
    """
    text = text.strip()
    if not text:
        raise HandoffError("the answer must not be empty")
    if len(text) > MAX_REPLY:
        raise HandoffError(f"the answer is {len(text)} characters, the limit is {MAX_REPLY}")
    if not key.strip() or len(key) > KEY_MAX:
        raise HandoffError(f"the idempotency key must be 1 to {KEY_MAX} characters")
    return text


async def answer_all(
    engine: AsyncEngine, reference: str, agent: User, text: str, key: str
) -> Answered:
    """Send ``text`` to every customer waiting about incident ``reference``, once per ``key``.

    Raises:
        HandoffError: bad text or key, or ``key`` was used for a different answer.
        HandoffNotFound: there is no incident ``reference``.
    """
    text = check(text, key)
    try:
        async with engine.begin() as connection:
            earlier = await _earlier(connection, agent, key, reference, text)
            if earlier is not None:
                return earlier
            return await _send(connection, reference, agent, text, key)
    except IntegrityError:
        # A request with the same key committed first: say what it sent.
        async with engine.connect() as connection:
            earlier = await _earlier(connection, agent, key, reference, text)
        if earlier is None:
            raise
        return earlier


async def _earlier(
    connection: AsyncConnection, agent: User, key: str, reference: str, text: str
) -> Answered | None:
    found = (
        await connection.execute(
            select(_BULK, col(Incident.reference))
            .join(Incident, col(Incident.id) == col(BulkAnswer.incident_id))
            .where(col(BulkAnswer.agent_id) == agent.id, col(BulkAnswer.idempotency_key) == key)
        )
    ).first()
    if found is None:
        return None
    if found.reference != reference or found.text != text:
        raise HandoffError(
            f"this Idempotency-Key was used for another answer (to {found.reference}); "
            "send a new key for a new answer"
        )
    sent = tuple(int(c) for c in found.conversations.split(",") if c)
    return Answered(reference, sent, replayed=True)


async def _incident(connection: AsyncConnection, reference: str) -> IncidentRecord:
    row = (
        await connection.execute(select(_INCIDENT).where(_INCIDENT.c.reference == reference))
    ).first()
    if row is None:
        raise HandoffNotFound(f"no incident {reference!r}")
    incident = Incident.model_construct(**row._mapping)
    areas = await connection.execute(
        select(col(IncidentArea.area_code)).where(col(IncidentArea.incident_id) == incident.id)
    )
    return IncidentRecord(incident, tuple(sorted(areas.scalars().all())))


async def _send(
    connection: AsyncConnection, reference: str, agent: User, text: str, key: str
) -> Answered:
    record = await _incident(connection, reference)
    now = utcnow()
    # The key first: a second request with it stops here (on SQLite this write also takes
    # the lock, so the queue read next is the one the answer goes to).
    answer = (
        await connection.execute(
            insert(_BULK)
            .values(
                agent_id=agent.id,
                idempotency_key=key,
                incident_id=record.incident.id,
                text=text,
                conversations="",
                created_at=now,
            )
            .returning(_BULK.c.id)
        )
    ).scalar_one()
    chosen = waiting_about(record, await queue_in(connection, now), agent)
    if not chosen:
        return Answered(reference, (), replayed=False)
    ids = tuple(entry.conversation_id for entry in chosen)
    await connection.execute(
        update(_BULK).where(_BULK.c.id == answer).values(conversations=",".join(map(str, ids)))
    )
    conversations = await _addressees(connection, ids)
    rows = [
        row
        for entry in chosen
        for row in reply_rows(
            conversations[entry.conversation_id],
            [text],
            REPLY_VARIANT[Channel(entry.channel)],
            None,
            agent_author(agent),
            False,
            now,
        )
    ]
    message_ids = (await connection.execute(INSERT_REPLIES, rows)).scalars().all()
    replies = [
        reply
        for row, message_id in zip(rows, message_ids, strict=True)
        for reply in queued(conversations[row["conversation_id"]], [row], [message_id])
    ]
    await connection.execute(
        insert(AuditEntry.__table__),  # type: ignore[attr-defined]
        [
            {
                "at": now,
                "actor": agent.name[:80],
                "action": Action.REPLY.value,
                "target": f"conversation {conversation_id}",
                "detail": f"one answer to everyone waiting about {reference}",
            }
            for conversation_id in ids
        ],
    )
    await connection.execute(
        update(Conversation.__table__)  # type: ignore[attr-defined]
        .where(col(Conversation.id).in_(ids))
        .values(updated_at=now)
    )
    return Answered(reference, ids, replayed=False, replies=tuple(replies))


async def _addressees(connection: AsyncConnection, ids: Sequence[int]) -> dict[int, Conversation]:
    rows = await connection.execute(
        select(
            col(Conversation.id), col(Conversation.channel), col(Conversation.external_user_id)
        ).where(col(Conversation.id).in_(ids))
    )
    return {
        row.id: Conversation.model_construct(
            id=row.id, channel=row.channel, external_user_id=row.external_user_id
        )
        for row in rows
    }

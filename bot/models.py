"""Every database table, in one module so the schema reads in one place.

Times are aware datetimes stored as UTC (sqlmodel's ``UTCDateTime``), which SQLite and
PostgreSQL treat alike; conversion to the customer's time zone happens only when a
sentence is rendered. Enumerations are stored as plain strings so adding a value never
needs a PostgreSQL ``ALTER TYPE``.
Each change to this module needs an Alembic migration in ``bot/migrations/versions``.

Over 400 lines on purpose: every table stays here (a house rule), so one file is the
schema the migrations must match.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from uuid import uuid4

from sqlalchemy import Column, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import configure_mappers
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Return the current time in UTC, the form every table stores."""
    return datetime.now(UTC)


class IncidentStatus(StrEnum):
    """Where an incident stands; everything but ``resolved`` is active."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class Service(StrEnum):
    """What an incident takes away from customers."""

    BROADBAND = "broadband"
    PHONE = "phone"
    TV = "tv"


class ConversationState(StrEnum):
    """Who answers a conversation: the bot, nobody yet, an agent, or nobody any more."""

    BOT = "bot"
    ESCALATED = "escalated"
    AGENT = "agent"
    CLOSED = "closed"


class MessageState(StrEnum):
    """Where a message stands: inbound ones being answered, outbound ones being delivered.

    Inbound: received -> processed, or received -> waiting (the holding reply went out
    while Rasa was down) -> processed; or flooded from the start, for good (one of more
    messages a minute than the flood limit allows: stored for the transcript, never sent
    to Rasa, never answered later). Outbound (the outbox): pending -> sending -> sent, or
    back to pending for a retry, or failed for good.
    """

    RECEIVED = "received"
    WAITING = "waiting"
    PROCESSED = "processed"
    FLOODED = "flooded"
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class EscalationState(StrEnum):
    """Where a request for a person stands in the agents' queue."""

    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


class HandOffReason(StrEnum):
    """Why a conversation leaves the bot; the hand-off intents are named after these."""

    VULNERABLE = "vulnerable"
    REQUEST_HUMAN = "request_human"
    BOT_FAILED = "bot_failed"
    FRUSTRATED = "frustrated"
    ABUSE = "abuse"
    COMPENSATION = "compensation"
    BILLING = "billing"
    CANCEL = "cancel"


class Role(StrEnum):
    """What a console user may do."""

    AGENT = "agent"
    COMMS = "comms"
    ADMIN = "admin"


class AreaCode(SQLModel, table=True):
    """A UK geographic area code (without a trailing range digit) and its place name."""

    __tablename__ = "area_code"

    code: str = Field(primary_key=True, max_length=8)
    place: str = Field(max_length=120)


class Incident(SQLModel, table=True):
    """A known fault, shown to customers in the affected area codes."""

    __tablename__ = "incident"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, index=True, max_length=32)
    title: str = Field(max_length=200)
    cause: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    services: str = Field(default="broadband", max_length=100)
    status: str = Field(default=IncidentStatus.INVESTIGATING, sa_type=String(20))
    started_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = Field(default=None, index=True)
    eta: datetime | None = None


class IncidentArea(SQLModel, table=True):
    """One affected area code of an incident (the lookup index for customers)."""

    __tablename__ = "incident_area"
    __table_args__ = (Index("ix_incident_area_code_incident", "area_code", "incident_id"),)

    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    area_code: str = Field(primary_key=True, max_length=8)


class TimelineEntry(SQLModel, table=True):
    """One entry of an incident's timeline: who changed what, when."""

    __tablename__ = "incident_update"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow)
    author: str = Field(default="system", max_length=80)
    status: str = Field(sa_type=String(20))
    eta: datetime | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Response(SQLModel, table=True):
    """The current text of one canned response for one channel variant."""

    __tablename__ = "response"

    key: str = Field(primary_key=True, max_length=80)
    channel: str = Field(primary_key=True, max_length=20)
    text: str = Field(sa_column=Column(Text, nullable=False))
    version: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="system", max_length=80)


class ResponseVersion(SQLModel, table=True):
    """Every text a canned response has ever had, so edits can be audited and undone."""

    __tablename__ = "response_version"
    __table_args__ = (UniqueConstraint("key", "channel", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, index=True)
    channel: str = Field(max_length=20)
    version: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    author: str = Field(default="system", max_length=80)
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A console user (agent, comms staff or admin); secrets are stored only as hashes.

    ``must_change_password`` is set by a reset: the user's next sign-in leads to a new
    password before anything else. A disabled user keeps their rows (the audit trail and
    hand-offs name them) but can no longer sign in or use a token.
    """

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=80)
    role: str = Field(sa_type=String(20))
    password_hash: str = Field(max_length=200)
    must_change_password: bool = Field(default=False)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)
    last_sign_in_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """An API token for scripts, stored as a SHA-256 digest; it expires or is revoked."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class StaffSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random id, this row only its digest.

    ``csrf_token`` is the synchronizer token the pages send back in ``X-CSRF-Token`` on
    every state-changing call.
    """

    __tablename__ = "staff_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class SignInFailure(SQLModel, table=True):
    """One failed sign-in, counted per user name and per address to slow guessing down."""

    __tablename__ = "sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    username: str = Field(max_length=80, index=True)
    address: str = Field(max_length=64, index=True)


class AuditEntry(SQLModel, table=True):
    """Who did what to what, and when: sign-ins, hand-off moves, edits, transcript reads."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=80, index=True)
    action: str = Field(max_length=40, index=True)
    target: str = Field(default="", max_length=120)
    detail: str = Field(default="", max_length=300)


def new_key() -> str:
    """A random, never-reused identifier (database ids restart when a database is rebuilt)."""
    return uuid4().hex


class Conversation(SQLModel, table=True):
    """One customer on one channel, carried across sessions.

    ``key`` is the conversation's name in Rasa (the sender id): unlike ``id`` it cannot
    collide when databases are rebuilt or several share one Rasa server.
    """

    __tablename__ = "conversation"
    __table_args__ = (
        UniqueConstraint("channel", "external_user_id"),
        # The dashboard counts each channel's conversations over the last day from this
        # index alone; without it that count read every conversation ever.
        Index("ix_conversation_channel_updated", "channel", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(default_factory=new_key, unique=True, index=True, max_length=32)
    channel: str = Field(max_length=20)
    external_user_id: str = Field(max_length=120)
    display_name: str = Field(default="", max_length=200)
    state: str = Field(default=ConversationState.BOT, sa_type=String(20), index=True)
    failures: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ChatIdentity(SQLModel, table=True):
    """A web-chat customer: their sender name and the digest of the secret only they hold.

    The server issues the secret with the sender's first message (``bot.chat_identity``).
    ``first_message`` and ``confirmed_at`` let a page that never got that answer send its
    first message again, once, until the secret has been used.
    """

    __tablename__ = "chat_identity"

    sender: str = Field(primary_key=True, max_length=120)
    secret_hash: str = Field(max_length=64)
    first_message: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None


class Message(SQLModel, table=True):
    """A message in or out; outbound ones double as the outbox until they are sent.

    Inbound ``state`` goes received -> processed, or received -> waiting (the holding reply
    went out while Rasa was down) -> processed, or is flooded (over the flood limit) for
    good; outbound goes pending -> sent | failed. ``external_id`` is the platform's id,
    unique per channel, which makes inbound deduplication a database constraint rather
    than a hope.
    """

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_message_outbox", "direction", "state", "next_attempt_at"),
        # The flood limit reads a conversation's latest inbound messages from this index
        # alone, as each one is stored (bot.conversations.flood). Inbound rows only: the
        # replies, two of three rows written, cost it nothing. ``direction`` is in it all
        # the same, since SQLite reads an index alone only if it has every column named.
        Index(
            "ix_message_conversation_recent",
            "conversation_id",
            "direction",
            "created_at",
            sqlite_where=text("direction = 'in'"),
            postgresql_where=text("direction = 'in'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    channel: str = Field(max_length=20)
    direction: str = Field(max_length=3)  # "in" or "out"
    author: str = Field(default="customer", max_length=80)
    text: str = Field(sa_column=Column(Text, nullable=False))
    external_id: str | None = Field(default=None, max_length=120)
    reply_to: str | None = Field(default=None, max_length=120)
    # The reply variant (bot.messages.Variant) the message was written for; the column keeps
    # its first name, ``context``, so the schema and the API are unchanged.
    variant: str = Field(
        default="", max_length=40, sa_column_kwargs={"name": "context", "key": "variant"}
    )
    state: str = Field(default=MessageState.RECEIVED, max_length=20)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = None
    last_error: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class Escalation(SQLModel, table=True):
    """A request for a person to take over a conversation."""

    __tablename__ = "escalation"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    reason: str = Field(max_length=40)
    priority: int = Field(default=1)
    state: str = Field(default=EscalationState.OPEN, max_length=20, index=True)
    agent_id: int | None = Field(default=None, foreign_key="user_account.id")
    outcome: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    claimed_at: datetime | None = None
    closed_at: datetime | None = None
    queue_notices: int = Field(default=0)
    """How many times the waiting customer has been told their place again (one a threshold)."""
    queue_noticed_at: datetime | None = None
    area_code: str | None = Field(default=None, max_length=8)
    """Where the customer is, when the bot knew it at the hand-off."""
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    """The incident the bot had told the customer about, or that covered their area then."""


class BulkAnswer(SQLModel, table=True):
    """One answer an agent sent to every customer waiting about an incident.

    The agent's idempotency key is unique, so a second press of the same button (or a
    retried request) finds this row and sends nothing again. ``conversations`` lists who
    got it (comma-separated ids), so the retry can say so.
    """

    __tablename__ = "bulk_answer"
    __table_args__ = (UniqueConstraint("agent_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="user_account.id")
    idempotency_key: str = Field(max_length=100)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    text: str = Field(sa_column=Column(Text, nullable=False))
    conversations: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Subscription(SQLModel, table=True):
    """A customer's wish to be told when the fault in their area is fixed."""

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("conversation_id", "incident_id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    area_code: str = Field(max_length=8)
    created_at: datetime = Field(default_factory=utcnow)
    notified_at: datetime | None = None
    eta_told: datetime | None = None
    """The estimated fix the customer last heard of, so a later one can be told once."""


class ReportOutcome(StrEnum):
    """What the bot told a customer who reported a fault or asked about one."""

    INCIDENT = "incident"
    RESOLVED = "resolved"
    NO_INCIDENT = "no_incident"


REPORT_BUCKET_SECONDS = 300
"""A report's ``bucket`` is its time in whole 5-minute slots since the epoch."""


class Report(SQLModel, table=True):
    """A customer's message that named an area and described a fault or asked about one.

    Written by the outage check (one row per check), with the answer it got, so the
    dashboard, the early warning and the follow-ups read one small table rather than
    the whole message history. ``bucket`` is stored rather than computed so charts group
    by a plain integer on SQLite and PostgreSQL alike. There is deliberately no index
    leading with ``area_code``: SQLite (which keeps no statistics) would pick it to avoid
    sorting a GROUP BY and scan every report ever, instead of the last day's by bucket.
    """

    __tablename__ = "report"
    __table_args__ = (
        Index("ix_report_bucket_area", "bucket", "area_code"),
        Index("ix_report_created_area", "created_at", "area_code", "conversation_id"),
        Index("ix_report_incident_conversation", "incident_id", "conversation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    channel: str = Field(max_length=20)
    area_code: str = Field(max_length=8)
    intent: str = Field(default="", max_length=40)
    outcome: str = Field(sa_type=String(20))
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    text: str = Field(default="", max_length=280)
    created_at: datetime = Field(default_factory=utcnow)
    bucket: int


class AlertState(StrEnum):
    """Where an early-warning alert stands; only ``open`` ones are shown."""

    OPEN = "open"
    DISMISSED = "dismissed"
    CLEARED = "cleared"
    INCIDENT = "incident"


class Alert(SQLModel, table=True):
    """Reports rising in area codes no incident covers: a fault nobody has filed yet."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    area_codes: str = Field(max_length=400)  # comma-separated, sorted
    reports: int = Field(default=0)
    since: datetime
    state: str = Field(default=AlertState.OPEN, sa_type=String(20), index=True)
    raised_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    dismissed_by: str = Field(default="", max_length=80)
    dismissed_at: datetime | None = None
    incident_id: int | None = Field(default=None, foreign_key="incident.id")


class FollowUpKind(StrEnum):
    """Why the bot wrote to a customer first."""

    OPENED = "opened"
    ETA_LATER = "eta_later"


class FollowUp(SQLModel, table=True):
    """A message the bot sent unasked; the unique key makes each one once per customer.

    ``occasion`` tells apart follow-ups of one kind about one incident: empty for
    ``opened``, the new estimated fix for ``eta_later``.
    """

    __tablename__ = "follow_up"
    __table_args__ = (UniqueConstraint("kind", "conversation_id", "incident_id", "occasion"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(20))
    conversation_id: int = Field(foreign_key="conversation.id")
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    occasion: str = Field(default="", max_length=40)
    created_at: datetime = Field(default_factory=utcnow)


class ChannelCursor(SQLModel, table=True):
    """Where a polling channel got to (e.g. X's newest mention id), kept across restarts."""

    __tablename__ = "channel_cursor"

    name: str = Field(primary_key=True, max_length=60)
    value: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow)


# Mapped now rather than on first use: the hot path builds rows it has just written with
# ``model_construct`` (no validation, no ORM bookkeeping), and reading attributes of such
# an object needs the mappers configured, which ordinarily only a constructor triggers.
configure_mappers()

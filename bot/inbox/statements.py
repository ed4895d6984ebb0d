"""The inbox's statements as SQL text for the drivers we call directly, and its results.

:mod:`bot.inbox.sqlite` (sqlite3) and :mod:`bot.inbox.postgres` (asyncpg) run the very
Core statements the engine path runs (:mod:`bot.conversations.statements`,
:mod:`bot.delivery.outbox`), compiled once per dialect, so the paths cannot drift apart;
what the drivers hand back becomes the same :class:`~bot.conversations.store.Received`
and replies the engine path gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from bot.conversations import flood
from bot.conversations import statements as core
from bot.conversations.store import Answer, Received
from bot.delivery import outbox
from bot.messages import Outbound
from bot.models import Conversation, Message

CONVERSATION_COLUMNS = tuple(c.key for c in core.CONVERSATION_TABLE.c)
_NEW_CONVERSATION = [name for name in CONVERSATION_COLUMNS if name != "id"]
_NEW_MESSAGE = [c.key for c in core.MESSAGE_TABLE.c if c.key != "id"]


class Prepared:
    """A statement's SQL for one dialect, and its parameters in the order the SQL wants."""

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, columns: Sequence[str] | None = None
    ) -> None:
        """``columns`` are an INSERT's, all given by the caller (no defaults are applied)."""
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=columns))
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        self._fixed = compiled.params

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """Positional arguments from ``params`` (by name) and the statement's own literals."""
        return [params[name] if name in params else self._fixed[name] for name in self._names]


@dataclass(frozen=True, slots=True)
class Statements:
    """Everything the SQLite inbox runs, for one dialect.

    The PostgreSQL inbox folds them into single statements of its own (data-modifying
    CTEs) and compiles only those.
    """

    touch: Prepared
    insert_conversation: Prepared
    insert_message: Prepared
    stored: Prepared
    answered: Prepared
    pick_up: Prepared
    flood: Prepared

    @classmethod
    def compile(cls, dialect: Dialect) -> Statements:
        """Compile the inbox's statements for ``dialect``."""
        return cls(
            touch=Prepared(core.TOUCH, dialect),
            insert_conversation=Prepared(core.INSERT_CONVERSATION, dialect, _NEW_CONVERSATION),
            insert_message=Prepared(core.INSERT_INBOUND, dialect, _NEW_MESSAGE),
            stored=Prepared(core.STORED, dialect),
            answered=Prepared(core.ANSWERED, dialect),
            pick_up=Prepared(outbox.PICK_UP, dialect),
            flood=Prepared(flood.CHECK, dialect),
        )


def received(
    conversation: Mapping[str, Any],
    message: dict[str, Any],
    message_id: int,
    state: str,
    before: str | None,
) -> Received:
    """What storing ``message`` gave: its conversation's row as it now stands, its new id.

    ``state`` is the one the message was stored in, ``before`` that of the conversation's
    message before it (:func:`bot.conversations.flood.slows_down`). Built without
    validation: the values are the ones just written and read back.
    """
    message.update(id=message_id, conversation_id=conversation["id"], state=state)
    return Received(
        Conversation.model_construct(**conversation),
        Message.model_construct(**message),
        flood.slows_down(state, before),
    )


def answered(
    answer: Answer,
    rows: Sequence[Mapping[str, Any]],
    found: Sequence[Any] | None,
    ids: Sequence[int],
    picked: Sequence[Any],
) -> tuple[str, list[Outbound]]:
    """:func:`bot.conversations.store.answer`'s result from what the statements returned."""
    conversation = answer.conversation
    if found is None:  # the message was answered already (or is gone): nothing was stored
        return conversation.state, []
    replies = core.queued(conversation, rows, ids)
    return found[0], replies + outbox.picked(conversation, picked)

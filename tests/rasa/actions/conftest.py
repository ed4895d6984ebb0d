"""Our Rasa actions run as rasa-sdk runs them, on a built ``Tracker``, with no Rasa server.

Each test builds the tracker Rasa would send (slots, the latest message with its intent
and the router's variant, the events so far), runs one action with a
``CollectingDispatcher`` and reads what it said and which events it returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import store as conversations
from bot.incidents.book import IncidentRecord, Incidents
from bot.locations.locator import Locator
from bot.messages import Channel, Inbound, Variant
from bot.rasa.actions import ActionDeps
from bot.rasa.actions.context import DepsAction
from bot.responses.store import ResponseStore
from bot.settings import Settings

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="session")
def locator() -> Locator:
    return Locator.from_data(Settings().data_dir)


@pytest.fixture
async def deps(engine: AsyncEngine, locator: Locator) -> AsyncIterator[ActionDeps]:
    """What the app hands the actions: the test's database, the real data and responses."""
    responses = await ResponseStore.open(engine, Settings().data_dir)
    yield ActionDeps(
        engine=engine,
        locator=locator,
        incidents=Incidents(engine, locator),
        tz=LONDON,
        responses=responses,
    )


def user_event(text: str, intent: str) -> dict[str, Any]:
    """A customer's message as it appears among a tracker's events."""
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def action_event(name: str) -> dict[str, Any]:
    """An action the bot ran, as it appears among a tracker's events."""
    return {"event": "action", "name": name}


def tracker(
    intent: str,
    *,
    sender: str = "a-conversation-key",
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    variant: Variant = Variant.WEB,
) -> Tracker:
    """The tracker Rasa sends with an action call; the latest message is the last event."""
    latest = {"text": "...", "intent": {"name": intent}, "metadata": {"variant": str(variant)}}
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message=latest,
        events=events if events is not None else [user_event("...", intent)],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@dataclass
class Ran:
    """What one action run did: the texts it sent and the events it returned."""

    texts: list[str]
    events: list[dict[str, Any]]


async def run(action: DepsAction, on: Tracker) -> Ran:
    """Run ``action`` as rasa-sdk's executor does and collect what it said."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, on, {})
    return Ran([message["text"] for message in dispatcher.messages], list(events))


def said(deps: ActionDeps, key: str, variant: Variant = Variant.WEB, **values: str) -> str:
    """The canned response ``key`` as the store renders it for ``variant``."""
    return deps.responses.render(key, variant, values)


async def open_conversation(engine: AsyncEngine, user: str = "customer-1") -> tuple[int, str]:
    """A web-chat conversation with one message in it: its id and its key (Rasa's sender)."""
    received = await conversations.receive(
        engine, Inbound(Channel.WEB, user, "broadband down in leeds", external_id=f"web-{user}")
    )
    assert received is not None and received.conversation.id is not None
    return received.conversation.id, received.conversation.key


async def add_incident(
    deps: ActionDeps, areas: list[str], *, eta_hours: float | None = 3, cause: str = "a cut cable"
) -> IncidentRecord:
    """An open broadband and phone incident in ``areas``."""
    now = datetime.now(UTC)
    return await deps.incidents.create(
        title="Broadband and phone outage",
        areas=areas,
        services=["broadband", "phone"],
        cause=cause,
        eta=now + timedelta(hours=eta_hours) if eta_hours is not None else None,
        now=now,
    )

"""Rasa's conversations: in memory, forgotten when idle or beyond the limit; or shared in Redis.

The store runs inside Rasa, so these checks run in ``.venv-rasa`` on Rasa's own classes,
starting from each endpoints file Rasa may be given: Rasa falls back to its unbounded
in-memory store, with only a warning, when the configured one cannot be loaded.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import store as conversations
from bot.keys import engine_key
from bot.messages import Channel
from bot.rasa.process import endpoints_yaml
from bot.settings import ROOT
from tests.conftest import RASA_TOKEN, add_outage, app_settings, running_app
from tests.scratch import redis_url
from tests.web.test_chat import render, sender, texts

pytestmark = pytest.mark.e2e  # runs in .venv-rasa

INTENTS = ROOT / "intents"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

CHECK = """
import asyncio, json, sys
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from tracker_store import ExpiringTrackerStore

domain = Domain.load("domain.yml")
loaded = TrackerStore.create(AvailableEndpoints.read_endpoints(sys.argv[1]).tracker_store, domain)
clock = [0.0]
store = ExpiringTrackerStore(domain, idle_hours=1, max_conversations=3, clock=lambda: clock[0])

async def save(sender, at):
    clock[0] = at
    await store.save(DialogueStateTracker.from_events(sender, [UserUttered(f"hi from {sender}")]))

async def main():
    for sender in "abc":
        await save(sender, 0)
    await save("d", 10)        # a fourth: the one idle longest (a) goes
    await save("b", 20)        # b written again: now the most recent
    await save("e", 3605)      # c has been idle over an hour; d and b not quite
    kept = list(store.store)
    b = await store.retrieve("b")
    return {
        "loaded": type(loaded).__name__,
        "limits": [getattr(loaded, f"_{n}", None) for n in ("idle_seconds", "max_conversations")],
        "kept": kept,
        "forgotten": [s for s in "ac" if await store.retrieve(s) is None],
        "b": [e.text for e in b.events if isinstance(e, UserUttered)],
    }

print(json.dumps(asyncio.run(main())))
"""


SHORTEN = """
import asyncio, json
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered, SessionStarted
)
from rasa.shared.core.trackers import DialogueStateTracker
from tracker_store import ExpiringTrackerStore

domain = Domain.load("domain.yml")
store = ExpiringTrackerStore(domain, max_session_events=30, keep_turns=3)

def conversation(sender, turns, form=False):
    events = [ActionExecuted("action_listen")]
    for n in range(turns):
        events.append(UserUttered(f"message {n}", intent={"name": "ask_eta"}))
        if n == 0:
            events += [SlotSet("area_code", "0161"), SlotSet("place", "Manchester")]
        if n == 1:
            events.append(SlotSet("place", "Salford"))
        events += [ActionExecuted("action_check_outage"), BotUttered(f"answer {n}")]
        events.append(ActionExecuted("action_listen"))
    if form:
        events[-1:] = [ActiveLoop("location_form"), ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events(sender, events, slots=domain.slots)

async def saved(tracker):
    await store.save(tracker)
    back = await store.retrieve(tracker.sender_id)
    return {
        "events": len(back.events),
        "said": [e.text for e in back.events if isinstance(e, UserUttered)],
        "slots": [back.get_slot("area_code"), back.get_slot("place")],
        "sessions": sum(isinstance(e, SessionStarted) for e in back.events),
        "listening": back.latest_action_name,
    }

async def main():
    return {
        "long": await saved(conversation("long", 20)),
        "short": await saved(conversation("short", 5)),
        "form": await saved(conversation("form", 20, form=True)),
    }

print(json.dumps(asyncio.run(main())))
"""


def run_check(endpoints: Path, script: str = CHECK) -> dict[str, object]:
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", script, str(endpoints)],
        cwd=INTENTS,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "RASA_TELEMETRY_ENABLED": "false",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(INTENTS),
            "OUTAGE_BOT_ACTIONS_URL": "http://app/webhooks/actions",
            "OUTAGE_BOT_NLG_URL": "http://app/webhooks/nlg",
            "OUTAGE_BOT_CALLBACK_SECRET": "a-secret-rasa-sends-with-each-call",
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize("source", ["generated", "intents/endpoints.yml"])
def test_rasa_loads_the_expiring_store_which_forgets_idle_and_surplus_conversations(
    source: str, tmp_path: Path
) -> None:
    """Both in-memory endpoints files: ``serve``'s generated one and Rasa's default."""
    endpoints = ROOT / source
    if source == "generated":
        endpoints = tmp_path / "endpoints.yml"
        endpoints.write_text(endpoints_yaml("http://127.0.0.1:8080", None))

    found = run_check(endpoints)

    assert found["loaded"] == "ExpiringTrackerStore"
    assert found["limits"] == [48 * 3600, 50_000]
    assert found["kept"] == ["d", "b", "e"]
    assert found["forgotten"] == ["a", "c"]
    assert found["b"] == ["hi from b"]


def test_a_long_conversation_continues_from_its_slots_and_last_turns() -> None:
    """Past the limit a session starts afresh, as when Rasa's expire, keeping the context."""
    found: dict[str, Any] = run_check(INTENTS / "endpoints.yml", SHORTEN)

    long = found["long"]
    assert long["said"] == ["message 17", "message 18", "message 19"]
    assert long["slots"] == ["0161", "Salford"]
    assert long["sessions"] == 1
    assert long["listening"] == "action_listen"
    assert long["events"] <= 30

    assert found["short"]["said"] == [f"message {n}" for n in range(5)]
    assert found["short"]["sessions"] == 0
    # Mid-form the conversation is left whole until the form is done.
    assert len(found["form"]["said"]) == 20


async def test_a_long_chat_keeps_its_context_while_rasa_keeps_it_short(
    engine: AsyncEngine, database_url: str, rasa_server: str, app_port: int, tmp_path: Path
) -> None:
    """Through the real app and Rasa: 40 turns, then a follow-up still knows the place.

    With the flood limit off: 40 turns in a row are more than a customer may send a minute.
    """
    settings = replace(app_settings(database_url, rasa_server, app_port, tmp_path), flood_limit=0)
    async with running_app(settings) as live_app:
        await add_outage(live_app.app, ["020"])
        customer = sender()
        assert "London" in texts(await live_app.chat(customer, "is there an outage in 020?"))[0]
        for _ in range(40):
            assert texts(await live_app.chat(customer, "when will it be back?"))

        follow_up = texts(await live_app.chat(customer, "any news?? when is it fixed"))

        assert render(live_app, "utter_ask_area_code") not in follow_up
        assert "London" in follow_up[0] and "(020)" in follow_up[0]
        conversation = await conversations.by_channel_user(
            live_app.app[engine_key], Channel.WEB, customer
        )
        assert conversation is not None
        async with live_app.client.get(
            f"{rasa_server}/conversations/{conversation.key}/tracker",
            params={"include_events": "ALL", "token": RASA_TOKEN.reveal()},
        ) as response:
            events = (await response.json())["events"]
        said = [event["text"] for event in events if event["event"] == "user"]
        assert len(events) <= 200 + 40, len(events)
        assert said[-1] == "any news?? when is it fixed"
        assert len(said) < 42


SHARED = """
import asyncio, json, sys, uuid
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered, BotUttered
from rasa.shared.core.trackers import DialogueStateTracker

domain = Domain.load("domain.yml")
endpoints = AvailableEndpoints.read_endpoints(sys.argv[1])
one, two = (TrackerStore.create(endpoints.tracker_store, domain) for _ in range(2))
locks = LockStore.create(endpoints.lock_store)
sender = f"shared-{uuid.uuid4().hex}"

def conversation(turns):
    events = [ActionExecuted("action_listen")]
    for n in range(turns):
        events.append(UserUttered(f"message {n}", intent={"name": "ask_eta"}))
        if n == 0:
            events.append(SlotSet("area_code", "0161"))
        events += [BotUttered(f"answer {n}"), ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events(sender, events, slots=domain.slots)

async def locking():
    async with locks.lock(sender, lock_lifetime=5):
        held = locks.red.get(locks.key_prefix + sender) is not None
        other = asyncio.create_task(locks.lock(sender).__aenter__())
        await asyncio.sleep(0.2)
        waiting = not other.done()
    await asyncio.wait_for(other, 5)  # taken once released
    locks.red.delete(locks.key_prefix + sender)
    return [held, waiting, other.done()]

async def main():
    locked = await locking()
    await one.save(conversation(3))
    seen = await two.retrieve(sender)           # another Rasa process reads it
    await two.save(conversation(80))            # and writes it past the limit
    back = await one.retrieve(sender)
    ttl = one.red.ttl(one.key_prefix + sender)
    one.red.delete(one.key_prefix + sender)
    return {
        "types": [type(one).__name__, type(locks).__name__, isinstance(locks, RedisLockStore)],
        "seen": [e.text for e in seen.events if isinstance(e, UserUttered)],
        "slot": back.get_slot("area_code"),
        "said": [e.text for e in back.events if isinstance(e, UserUttered)],
        "ttl": ttl,
        "locked": locked,
    }

print(json.dumps(asyncio.run(main())))
"""


@pytest.mark.parametrize("source", ["generated", "deploy/rasa-endpoints.yml"])
def test_scaled_out_rasa_shares_short_conversations_in_redis(source: str, tmp_path: Path) -> None:
    """Any Rasa process reads what another wrote; long ones are shortened; idle ones expire."""
    endpoints = ROOT / source
    if source == "generated":
        endpoints = tmp_path / "endpoints.yml"
        endpoints.write_text(endpoints_yaml("http://127.0.0.1:8080", redis_url(14)))
    else:  # compose names the Redis service "redis"; here it is on loopback
        endpoints = tmp_path / "compose.yml"
        endpoints.write_text((ROOT / source).read_text().replace("url: redis", "url: 127.0.0.1"))

    found: dict[str, Any] = run_check(endpoints, SHARED)

    assert found["types"] == ["SharedTrackerStore", "SharedLockStore", True]
    assert found["locked"] == [True, True, True]  # held, another waits, then gets it
    assert found["seen"] == ["message 0", "message 1", "message 2"]
    assert found["said"] == ["message 77", "message 78", "message 79"]
    assert found["slot"] == "0161"
    assert 47 * 3600 < found["ttl"] <= 48 * 3600

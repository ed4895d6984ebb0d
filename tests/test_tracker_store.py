"""Rasa's conversations in memory are forgotten when idle too long or beyond the limit.

The store runs inside Rasa, so these checks run in ``.venv-rasa`` on Rasa's own classes,
starting from each endpoints file Rasa may be given: Rasa falls back to its unbounded
in-memory store, with only a warning, when the configured one cannot be loaded.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.rasa_process import endpoints_yaml
from bot.settings import ROOT

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


def run_check(endpoints: Path) -> dict[str, object]:
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", CHECK, str(endpoints)],
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
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize(
    "source", ["generated", "intents/endpoints.yml", "deploy/rasa-endpoints.yml"]
)
def test_rasa_loads_the_expiring_store_which_forgets_idle_and_surplus_conversations(
    source: str, tmp_path: Path
) -> None:
    """Every endpoints file: ``serve``'s generated one, Rasa's default, docker compose's."""
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

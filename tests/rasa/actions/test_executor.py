"""The executor the app serves to Rasa knows every action of ours by its Rasa name."""

from __future__ import annotations

from pathlib import Path

from bot.rasa.actions import ActionDeps, build_executor
from bot.settings import Settings
from tests.rasa.actions.conftest import said


def domain_actions() -> set[str]:
    """The custom actions intents/domain.yml declares under ``actions:`` (Rasa calls us)."""
    lines = Path(Settings().intents_dir, "domain.yml").read_text().splitlines()
    start = lines.index("actions:") + 1
    names = set()
    for line in lines[start:]:
        if not line.startswith("  - "):
            break
        names.add(line.removeprefix("  - ").strip())
    return names


def test_every_action_the_domain_declares_is_served_and_no_other(deps: ActionDeps) -> None:
    served = {action.name for action in build_executor(deps).list_actions()}
    assert "action_check_outage" in domain_actions()
    assert served == domain_actions()


async def test_an_action_call_as_rasa_sends_it_is_answered(deps: ActionDeps) -> None:
    tracker = {
        "sender_id": "a-conversation-key",
        "slots": {},
        "latest_message": {"text": "internet down", "intent": {"name": "report_outage"}},
        "events": [{"event": "user", "text": "internet down"}],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    payload = {
        "next_action": "action_ask_area_code",
        "sender_id": "a-conversation-key",
        "tracker": tracker,
        "domain": {},
        "version": "3.6.21",
    }

    result = await build_executor(deps).run(payload)

    assert result is not None
    assert [message["text"] for message in result.responses] == [said(deps, "utter_ask_area_code")]
    assert result.events == []

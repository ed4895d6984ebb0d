"""The confidence rules NLU applies before its fallback thresholds (bot/rasa/confidence.py)."""

from __future__ import annotations

import pytest

from bot.rasa.confidence import VULNERABLE_MIN, adjust


def ranking(*pairs: tuple[str, float]) -> list[dict[str, object]]:
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def test_same_answer_intents_pool_their_confidence_under_the_leader() -> None:
    adjusted = adjust(ranking(("report_outage", 0.48), ("ask_eta", 0.42), ("greet", 0.1)))
    assert adjusted[0]["name"] == "report_outage"
    assert adjusted[0]["confidence"] == pytest.approx(0.9)
    assert [e["name"] for e in adjusted[1:]] == ["greet", "ask_eta"]


def test_different_answers_are_not_pooled() -> None:
    original = ranking(("billing", 0.5), ("compensation", 0.45), ("greet", 0.05))
    assert adjust(original) == original


def test_a_weak_vulnerable_reading_yields_to_the_next_rescaled() -> None:
    adjusted = adjust(ranking(("vulnerable", 0.5), ("report_outage", 0.4), ("greet", 0.1)))
    assert adjusted[0]["name"] == "report_outage"
    assert adjusted[0]["confidence"] == pytest.approx(0.8)
    assert adjusted[-1] == {"name": "vulnerable", "confidence": 0.0}


def test_a_clear_vulnerable_reading_stands() -> None:
    clear = ranking(("vulnerable", VULNERABLE_MIN), ("request_human", 0.3))
    assert adjust(clear)[0]["name"] == "vulnerable"


def test_a_weak_vulnerable_request_for_a_person_still_hands_over() -> None:
    adjusted = adjust(ranking(("vulnerable", 0.55), ("request_human", 0.4), ("ask_eta", 0.05)))
    assert adjusted[0]["name"] == "request_human"


def test_the_input_is_left_alone() -> None:
    original = ranking(("vulnerable", 0.5), ("report_outage", 0.5))
    adjust(original)
    assert original == ranking(("vulnerable", 0.5), ("report_outage", 0.5))

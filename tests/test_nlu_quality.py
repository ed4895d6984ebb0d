"""NLU quality on held-out messages the model never saw, scored by a running Rasa server.

The held-out file (tests/data/heldout_nlu.yml) was written apart from the training
data: other wording, typos, places and number formats. Cross-validation on the
training data says how well the model fits what we wrote; this says how well it
copes with what customers write.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import RASA_TOKEN

HELDOUT = Path(__file__).parent / "data" / "heldout_nlu.yml"

# 0.9 (the model scores 0.965 here, 0.94 in cross-validation): held-out text is deliberately
# unlike the training data, and the few intents that are easy to confuse
# (report_outage/check_outage, ask_eta/ask_if_fixed) lead to the same dialogue
# path, so a 10% error budget still leaves conversations on track.
MIN_INTENT_ACCURACY = 0.9
# The CRF's entities only help NLU (our Locator reads locations from the raw
# text); the model scores 0.96 here, so 0.9 leaves room for retraining noise.
MIN_ENTITY_F1 = 0.9
# The Locator's own entities, added in NLU by intents/location_entities.py: the
# slots are filled from these, so a miss means the bot asks where the customer is.
LOCATION_ENTITIES = frozenset({"area_code", "phone_number", "postcode", "place"})
LOCATOR = "LocationEntities"
MIN_LOCATION_RECALL = 0.95
# Escalation triggers we must not miss: a missed one leaves a customer who needs
# a person talking to the bot.
MIN_ESCALATION_RECALL = 0.95
# A fault described without a cue about the person is an outage report: flagged
# vulnerable, it would take the agents' most urgent minutes.
FAULT_ONLY_INTENTS = frozenset({"report_outage", "check_outage", "ask_eta", "ask_if_fixed"})
ESCALATION_INTENTS = frozenset(
    {"request_human", "vulnerable", "compensation", "billing", "cancel", "abuse", "frustrated"}
)

_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]+\}))")


@dataclass(frozen=True)
class Example:
    """One held-out message with what the model should find in it."""

    text: str
    intent: str
    entities: frozenset[tuple[str, str]]


def _parse_example(markup: str, intent: str) -> Example:
    entities: set[tuple[str, str]] = set()

    def plain(match: re.Match[str]) -> str:
        if match["entity"]:
            entities.add((match["entity"], match["text"].lower()))
        else:
            spec = json.loads(match["json"])
            entities.add((spec["entity"], str(spec.get("value", match["text"])).lower()))
        return match["text"]

    return Example(_ANNOTATION.sub(plain, markup), intent, frozenset(entities))


def load_heldout(path: Path = HELDOUT) -> list[Example]:
    """Read the Rasa NLU layout the file keeps to, without a YAML library."""
    examples: list[Example] = []
    intent: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if header := re.fullmatch(r"\s*- intent: (\S+)", line):
            intent = header[1]
        elif (item := re.fullmatch(r"\s{6}- (.+)", line)) and intent:
            examples.append(_parse_example(item[1].strip(), intent))
    return examples


def test_heldout_file_is_big_enough_and_parses() -> None:
    examples = load_heldout()
    assert len(examples) >= 150
    assert len({e.text for e in examples}) == len(examples)
    assert all(e.text and "[" not in e.text for e in examples)


async def _parse_all(base_url: str, texts: list[str]) -> list[dict[str, Any]]:
    limit = asyncio.Semaphore(8)

    async def parse(session: aiohttp.ClientSession, text: str) -> dict[str, Any]:
        async with (
            limit,
            session.post(
                f"{base_url}/model/parse",
                params={"token": RASA_TOKEN.reveal()},
                json={"text": text},
            ) as resp,
        ):
            resp.raise_for_status()
            result: dict[str, Any] = await resp.json()
            return result

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return await asyncio.gather(*(parse(session, t) for t in texts))


@pytest.fixture(scope="module")
def heldout_parses(rasa_server: str) -> list[tuple[Example, dict[str, Any]]]:
    examples = load_heldout()
    parses = asyncio.run(_parse_all(rasa_server, [e.text for e in examples]))
    return list(zip(examples, parses, strict=True))


def _misses(pairs: list[tuple[Example, dict[str, Any]]]) -> str:
    return "\n".join(
        f"  {e.intent} -> {p['intent']['name']} ({p['intent']['confidence']:.2f}): {e.text}"
        for e, p in pairs
    )


def test_heldout_intent_accuracy(heldout_parses: list[tuple[Example, dict[str, Any]]]) -> None:
    wrong = [(e, p) for e, p in heldout_parses if p["intent"]["name"] != e.intent]
    accuracy = 1 - len(wrong) / len(heldout_parses)
    assert accuracy >= MIN_INTENT_ACCURACY, f"accuracy {accuracy:.3f}\n{_misses(wrong)}"


def test_heldout_escalation_triggers_are_recognised(
    heldout_parses: list[tuple[Example, dict[str, Any]]],
) -> None:
    triggers = [(e, p) for e, p in heldout_parses if e.intent in ESCALATION_INTENTS]
    missed = [(e, p) for e, p in triggers if p["intent"]["name"] not in ESCALATION_INTENTS]
    recall = 1 - len(missed) / len(triggers)
    assert recall >= MIN_ESCALATION_RECALL, f"recall {recall:.3f}\n{_misses(missed)}"


def test_heldout_fault_reports_are_never_read_as_vulnerable(
    heldout_parses: list[tuple[Example, dict[str, Any]]],
) -> None:
    flagged = [
        (e, p)
        for e, p in heldout_parses
        if e.intent in FAULT_ONLY_INTENTS and p["intent"]["name"] == "vulnerable"
    ]
    assert not flagged, _misses(flagged)


def test_heldout_entity_f1(heldout_parses: list[tuple[Example, dict[str, Any]]]) -> None:
    counts: Counter[str] = Counter()
    for example, parse in heldout_parses:
        found = {
            (x["entity"], str(x["value"]).lower())
            for x in parse["entities"]
            if x.get("extractor") != LOCATOR
        }
        counts["tp"] += len(found & example.entities)
        counts["fp"] += len(found - example.entities)
        counts["fn"] += len(example.entities - found)
    precision = counts["tp"] / (counts["tp"] + counts["fp"])
    recall = counts["tp"] / (counts["tp"] + counts["fn"])
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= MIN_ENTITY_F1, f"precision {precision:.3f} recall {recall:.3f} f1 {f1:.3f}"


def test_heldout_locations_reach_the_slots(
    heldout_parses: list[tuple[Example, dict[str, Any]]],
) -> None:
    """Messages naming a location yield the area code the slots map from; others don't.

    Not every one: the Locator is conservative on purpose ("bath" in lower case may be
    a bath; 01632 is Ofcom's drama range, no real area), and asking again is cheaper
    than answering for the wrong town.
    """
    named_count = 0
    missed: list[str] = []
    invented: list[str] = []
    for example, parse in heldout_parses:
        named = any(kind in LOCATION_ENTITIES for kind, _ in example.entities)
        named_count += named
        located = {x["entity"] for x in parse["entities"] if x.get("extractor") == LOCATOR}
        if named and located != {"located_area_code", "located_place"}:
            missed.append(example.text)
        elif not named and located:
            invented.append(example.text)
    recall = 1 - len(missed) / named_count
    assert recall >= MIN_LOCATION_RECALL, f"recall {recall:.3f}, missed: {missed}"
    assert not invented, f"a location was read into: {invented}"

"""Held-out conversations, end to end: the real app, Rasa server and model, via /api/chat.

tests/data/heldout_conversations.yml was written apart from the training data, in the
way customers write on an outage day. Each conversation states what the bot must do
with each message; this test plays them all (several at once, each its own customer)
and scores them by kind, so a regression in one kind of conversation (asking for a
person, the bot failing twice, abuse, vulnerability...) cannot hide in the overall rate.

Expected sentences are matched against the canned response store, never written here.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.keys import engine_key, responses_key
from bot.messages import Variant
from bot.models import Escalation
from tests.conftest import LiveApp, add_outage

HELDOUT = Path(__file__).parent / "data" / "heldout_conversations.yml"

MIN_OVERALL = 0.95
MIN_PER_KIND = 0.9
MIN_CONVERSATIONS = 120
CONCURRENT = 6
"""Conversations played at once: each has its own customer, so they cannot interfere."""

OUTAGE_KEYS = ("utter_outage", "utter_eta", "utter_outage_no_eta")
ASK_KEYS = ("utter_ask_area_code", "utter_ask_town", "utter_location_not_found")
NOT_UNDERSTOOD_KEYS = (
    "utter_rephrase",
    "utter_out_of_scope",
    "utter_other_language",
    "utter_location_not_found",  # "I couldn't work out where that is": also not understood
)
HANDOFF_KEYS = ("utter_handoff", "utter_handoff_vulnerable")
NEEDS_AREA = frozenset({"outage", "no_outage", "calm_outage"})
EXPECTATIONS = NEEDS_AREA | {
    "ask_location",
    "not_understood",
    "calm_ask",
    "subscribed",
    "reply",
    "handoff",
    "quiet",
}


@dataclass(frozen=True)
class Turn:
    """One customer message and what the bot must do with it (``None``: anything)."""

    say: str
    expect: str | None = None
    area: str | None = None
    reason: str | None = None
    priority: int | None = None


@dataclass(frozen=True)
class Case:
    """One held-out conversation."""

    number: int
    kind: str
    turns: tuple[Turn, ...]

    @property
    def flags_vulnerable(self) -> bool:
        """Whether any turn expects the vulnerable hand-off."""
        return any(t.reason == "vulnerable" for t in self.turns)


@dataclass(frozen=True)
class Suite:
    """The outages open while the conversations run, and the conversations."""

    outages: dict[str, float | None]
    cases: tuple[Case, ...]


def load_suite(path: Path = HELDOUT) -> Suite:
    """Read the held-out file."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    outages = {str(o["area"]): o.get("eta_hours") for o in raw["outages"]}
    cases = tuple(
        Case(number, c["kind"], tuple(Turn(**t) for t in c["turns"]))
        for number, c in enumerate(raw["conversations"], start=1)
    )
    return Suite(outages, cases)


def test_heldout_conversations_are_enough_and_well_formed() -> None:
    suite = load_suite()
    assert len(suite.cases) >= MIN_CONVERSATIONS
    kinds = Counter(case.kind for case in suite.cases)
    assert min(kinds.values()) >= 5, kinds
    # Both directions of each decision are covered.
    for pair in [
        ("person", "not_person"),
        ("cannot_help", "can_help"),
        ("abuse_once", "abuse_repeated"),
        ("vulnerable", "not_vulnerable"),
    ]:
        assert set(pair) <= set(kinds), pair
    for case in suite.cases:
        assert case.turns, case
        for turn in case.turns:
            assert turn.say.strip(), case
            assert turn.expect is None or turn.expect in EXPECTATIONS, turn
            if turn.expect in NEEDS_AREA:
                assert turn.area, turn
            if turn.expect == "handoff":
                assert turn.reason and turn.priority, turn
    assert all(len(case.turns) >= 2 for case in suite.cases), "conversations, not messages"


class Checker:
    """Matches the bot's replies against the canned responses they should come from."""

    def __init__(self, live: LiveApp, references: dict[str, str]) -> None:
        self._store = live.app[responses_key]
        self._references = references
        self._patterns: dict[tuple[str, tuple[tuple[str, str], ...]], re.Pattern[str]] = {}

    def is_(self, text: str, keys: tuple[str, ...], **values: str) -> bool:
        """Whether ``text`` is one of ``keys`` rendered with ``values`` (others: anything)."""
        return any(self._pattern(key, values).fullmatch(text) for key in keys)

    def _pattern(self, key: str, values: dict[str, str]) -> re.Pattern[str]:
        cache_key = (key, tuple(sorted(values.items())))
        if cache_key not in self._patterns:
            hole = "QQHOLEQQ"
            filled = {name: values.get(name, hole) for name in self._store.placeholders(key)}
            text = self._store.render(key, Variant.WEB, filled)
            self._patterns[cache_key] = re.compile(re.escape(text).replace(hole, ".+?"), re.DOTALL)
        return self._patterns[cache_key]

    def outage(self, replies: list[str], area: str) -> bool:
        """Whether one reply is the known fault in ``area`` (with its reference)."""
        reference = self._references.get(area, "")
        return any(self.is_(r, OUTAGE_KEYS, area_code=area, reference=reference) for r in replies)

    def problem(self, turn: Turn, replies: list[str], state: str) -> str | None:
        """Why the replies do not meet ``turn``'s expectation, or ``None`` when they do."""
        expect = turn.expect
        if expect is None:
            return None
        if expect == "handoff":
            return None if state == "escalated" else "not handed over"
        if expect == "quiet":
            return (
                None if state == "escalated" and not replies else "the bot spoke after a hand-off"
            )
        if state != "bot":
            return f"handed over ({state})"
        area = turn.area or ""
        met = {
            "outage": self.outage(replies, area),
            "no_outage": any(self.is_(r, ("utter_no_outage",), area_code=area) for r in replies),
            "ask_location": any(self.is_(r, ASK_KEYS) for r in replies),
            "not_understood": any(self.is_(r, NOT_UNDERSTOOD_KEYS) for r in replies),
            "calm_outage": self._calm(replies) and self.outage(replies, area),
            "calm_ask": self._calm(replies) and any(self.is_(r, ASK_KEYS) for r in replies),
            "subscribed": any(self.is_(r, ("utter_subscribed",)) for r in replies),
            "reply": bool(replies)
            and not any(self.is_(r, NOT_UNDERSTOOD_KEYS + HANDOFF_KEYS) for r in replies),
        }[expect]
        return None if met else "wrong answer"

    def _calm(self, replies: list[str]) -> bool:
        return bool(replies) and self.is_(replies[0], ("utter_calm",))


@dataclass
class Outcome:
    """How one conversation went: the first failed turn, if any, and a vulnerable flag."""

    case: Case
    failure: str | None
    flagged_vulnerable: bool


async def _escalation(live: LiveApp, conversation_id: int) -> Escalation | None:
    async with AsyncSession(live.app[engine_key]) as session:
        query = select(Escalation).where(Escalation.conversation_id == conversation_id)
        return (await session.exec(query)).first()


async def _play(live: LiveApp, checker: Checker, case: Case) -> Outcome:
    customer = f"heldout-{case.number}-{uuid.uuid4().hex[:8]}"
    conversation_id = 0
    for index, turn in enumerate(case.turns, start=1):
        body: dict[str, Any] = await live.chat(customer, turn.say)
        replies = [reply["text"] for reply in body["replies"]]
        conversation_id = body["conversation"]["id"]
        problem = checker.problem(turn, replies, body["conversation"]["state"])
        if problem is None and turn.expect == "handoff":
            escalation = await _escalation(live, conversation_id)
            got = (escalation.reason, escalation.priority) if escalation else None
            if got != (turn.reason, turn.priority):
                problem = f"hand-off {got}, not {(turn.reason, turn.priority)}"
        if problem is not None:
            failure = (
                f"turn {index} {turn.say!r}: {problem}; expected {turn.expect}, got {replies}"
            )
            escalation = await _escalation(live, conversation_id)
            vulnerable = escalation is not None and escalation.reason == "vulnerable"
            return Outcome(case, failure, vulnerable)
    escalation = await _escalation(live, conversation_id)
    return Outcome(case, None, escalation is not None and escalation.reason == "vulnerable")


def _report(outcomes: list[Outcome]) -> tuple[float, dict[str, float], str]:
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for outcome in outcomes:
        total[outcome.case.kind] += 1
        passed[outcome.case.kind] += outcome.failure is None
    by_kind = {kind: passed[kind] / total[kind] for kind in sorted(total)}
    overall = sum(passed.values()) / len(outcomes)
    lines = [f"overall {overall:.3f} ({sum(passed.values())}/{len(outcomes)})"]
    lines += [f"  {kind}: {by_kind[kind]:.2f} ({passed[kind]}/{total[kind]})" for kind in by_kind]
    lines += [f"  FAIL #{o.case.number} {o.case.kind}: {o.failure}" for o in outcomes if o.failure]
    return overall, by_kind, "\n".join(lines)


# One database is enough: this measures understanding, and the app's storage is tested
# on both elsewhere; PostgreSQL is the one that takes concurrent customers in production.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_heldout_conversations_end_to_end(live_app: LiveApp) -> None:
    """Pass rate overall and by kind; never a vulnerable flag the case does not expect."""
    suite = load_suite()
    references = {
        area: await add_outage(live_app.app, [area], eta_hours=eta)
        for area, eta in suite.outages.items()
    }
    checker = Checker(live_app, references)
    limit = asyncio.Semaphore(CONCURRENT)

    async def play(case: Case) -> Outcome:
        async with limit:
            return await _play(live_app, checker, case)

    outcomes = list(await asyncio.gather(*(play(case) for case in suite.cases)))
    overall, by_kind, report = _report(outcomes)
    print(report)
    falsely_vulnerable = [
        f"#{o.case.number}"
        for o in outcomes
        if o.flagged_vulnerable and not o.case.flags_vulnerable
    ]
    assert not falsely_vulnerable, f"flagged vulnerable without a cue: {falsely_vulnerable}"
    assert overall >= MIN_OVERALL, report
    assert min(by_kind.values()) >= MIN_PER_KIND, report

"""How sure NLU is of what to *do*, not just of which intent it read.

Runs inside Rasa's NLU pipeline (``intents/intent_confidence.py``, between the intent
classifier and FallbackClassifier); kept here, free of Rasa, so it is tested with the app.

The classifier's confidences answer "which label?", but two of our decisions weigh
mistakes unequally, so this component adjusts the ranking before FallbackClassifier
applies its thresholds (FallbackClassifier then decides, as before, whether the bot
asks the customer to rephrase):

1. **Intents the bot answers the same way pool their confidence.** "Is there a fault?",
   "when will it be fixed?", "my broadband is down" and "I'm in Leeds" all start the
   location form and end in the outage answer. A model torn 0.54 / 0.46 between two of
   them is sure what to do; without pooling, FallbackClassifier's ambiguity rule would
   ask the customer to rephrase a perfectly clear fault report. The top intent of the
   family keeps its name and takes the family's total.
2. **The vulnerable flag needs a clear reading.** It puts a customer at the top of the
   agents' queue, ahead of everyone. Below ``vulnerable_min`` the model is not sure
   there is a cue about the person, so the message is read as what it most likely is
   otherwise: vulnerable is set aside and the other intents' confidences are rescaled
   to what they would be without it (``p / (1 - p_vulnerable)``). A fault report the
   model half-confused with a vulnerable one becomes a fault report; a request for a
   person with a weak vulnerable reading still becomes a request for a person.

"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SAME_ANSWER = (
    frozenset({"report_outage", "check_outage", "ask_eta", "ask_if_fixed", "give_location"}),
)
"""Families of intents that lead to the same dialogue path (see rules.yml)."""

VULNERABLE = "vulnerable"
VULNERABLE_MIN = 0.6
"""Below this the vulnerable reading yields to the next one (tuned on cross-validation)."""

Ranking = list[dict[str, Any]]


def adjust(
    ranking: Ranking,
    families: Iterable[frozenset[str]] = SAME_ANSWER,
    vulnerable_min: float = VULNERABLE_MIN,
) -> Ranking:
    """Return ``ranking`` (name/confidence dicts, best first) with both rules applied."""
    ranked = [dict(entry) for entry in ranking]
    if ranked and ranked[0]["name"] == VULNERABLE and ranked[0]["confidence"] < vulnerable_min:
        weak = ranked.pop(0)
        rest = 1.0 - float(weak["confidence"])
        for entry in ranked:
            entry["confidence"] = float(entry["confidence"]) / rest if rest > 0 else 0.0
        ranked.append({**weak, "confidence": 0.0})
    for family in families:
        members = [entry for entry in ranked if entry["name"] in family]
        if len(members) < 2:
            continue
        total = min(1.0, sum(float(entry["confidence"]) for entry in members))
        leader = members[0]
        for entry in members[1:]:
            entry["confidence"] = 0.0
        leader["confidence"] = total
    ranked.sort(key=lambda entry: float(entry["confidence"]), reverse=True)
    return ranked

"""Rasa's natural-language generation, answered from the comms-edited templates.

Rasa asks for a response by name (``utter_greet``); we pick the variant for the
customer's channel from the message metadata the router sent (Rasa's own
``channel.name`` is always "collector" through the REST channel) and fill in the slots
Rasa knows, so a comms edit shows up in the very next reply. Our custom actions render
the same way without the round trip (:func:`render`), since they run in this process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.messages import Renderer, Variant

log = logging.getLogger(__name__)

SLOT_VALUES = ("area_code", "place")


def variant_of(tracker: Mapping[str, Any]) -> Variant:
    """The reply variant the router asked for in the latest message's metadata."""
    metadata = (tracker.get("latest_message") or {}).get("metadata") or {}
    try:
        return Variant(metadata.get("variant", Variant.DEFAULT))
    except ValueError:
        return Variant.DEFAULT


def values_of(payload: Mapping[str, Any]) -> dict[str, str]:
    """Template values: what Rasa knows (slots) overlaid with what the action passed."""
    slots = (payload.get("tracker") or {}).get("slots") or {}
    values = {name: str(slots[name]) for name in SLOT_VALUES if slots.get(name) is not None}
    arguments = payload.get("arguments") or {}
    values.update({k: str(v) for k, v in arguments.items() if v is not None})
    return values


def render(
    responses: Renderer, key: str, tracker: Mapping[str, Any], arguments: Mapping[str, Any]
) -> str:
    """Render ``key`` for the tracker's latest message, as the NLG endpoint would."""
    values = values_of({"tracker": tracker, "arguments": arguments})
    return responses.render(key, variant_of(tracker), values)


def generate(payload: Mapping[str, Any], responses: Renderer) -> dict[str, str]:
    """Answer one NLG request with ``{"text": ...}``.

    Raises:
        ValueError: the request names no response.
    """
    key = payload.get("response") or payload.get("template")
    if not isinstance(key, str) or not key:
        raise ValueError("the request names no response")
    tracker = payload.get("tracker") or {}
    return {"text": render(responses, key, tracker, payload.get("arguments") or {})}

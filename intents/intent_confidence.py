"""Adjusts the intent ranking before FallbackClassifier: see :mod:`bot.rasa.confidence`.

Placed in the pipeline after the intent classifier and before FallbackClassifier, so
the fallback thresholds apply to the adjusted confidences.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.rasa.confidence import VULNERABLE_MIN, adjust


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentConfidence(GraphComponent):
    """Pools same-answer intents and sets a weak vulnerable reading aside."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """``vulnerable_min``: the least confidence that flags a customer vulnerable."""
        return {"vulnerable_min": VULNERABLE_MIN}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntentConfidence:
        """Nothing to load: the rules are arithmetic on the ranking."""
        return cls(float(config["vulnerable_min"]))

    def __init__(self, vulnerable_min: float) -> None:
        self._vulnerable_min = vulnerable_min

    def process(self, messages: list[Message]) -> list[Message]:
        """Rewrite each message's ranking and its top intent from the adjusted ranking."""
        for message in messages:
            ranking = message.get(INTENT_RANKING_KEY)
            if not ranking:
                continue
            adjusted = adjust(ranking, vulnerable_min=self._vulnerable_min)
            message.set(INTENT_RANKING_KEY, adjusted, add_to_output=True)
            message.set(INTENT, dict(adjusted[0]), add_to_output=True)
        return messages

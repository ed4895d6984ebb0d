"""Where the customer is, read inside Rasa's NLU from the raw text of every message.

The CRF extractor is good at spotting *that* a message names a location; our
:class:`bot.locations.locator.Locator` is what turns "+44 161 496 0000", "LS6" or "machester"
into an area code and a place. Running it here, as the last step of NLU, adds two
entities (``located_area_code`` and ``located_place``) that the ``area_code`` and
``place`` slots map from. It used to be a custom slot-mapping action, which cost Rasa an
HTTP round trip to our app, carrying the whole tracker, on every single message: about
a seventh of Rasa's time under load.

Rule-based like Duckling, so nothing in the training data is annotated with these
entities; ``run_rasa.py`` leaves them out of ``rasa test nlu`` for the same reason Rasa
leaves Duckling's out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import bot
from bot.locations.locator import Locator

# Beside the package, wherever it is installed (the repository, or the Rasa image).
DATA_DIR = Path(bot.__file__).resolve().parent.parent / "data"
AREA_CODE = "located_area_code"
PLACE = "located_place"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LocationEntities(GraphComponent, EntityExtractorMixin):
    """Adds the area code and place a message names, as resolved by our Locator."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """``data_dir``: the reference data (area codes, postcodes, places)."""
        return {"data_dir": str(DATA_DIR)}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LocationEntities:
        """Load the reference data once per model load."""
        return cls(Locator.from_data(Path(config["data_dir"])))

    def __init__(self, locator: Locator) -> None:
        self._locator = locator

    def process(self, messages: list[Message]) -> list[Message]:
        """Add both entities to each message that names a location, never one alone.

        The span is the whole message: the Locator answers for the text, not a word.
        """
        for message in messages:
            text = message.get(TEXT) or ""
            location = self._locator.locate(text)
            if location is None:
                continue
            found = [
                {"entity": AREA_CODE, "value": location.area_code},
                {"entity": PLACE, "value": location.place},
            ]
            for entity in found:
                entity.update(start=0, end=len(text), confidence=1.0)
            message.set(
                ENTITIES,
                message.get(ENTITIES, []) + self.add_extractor_name(found),
                add_to_output=True,
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples are left as annotated: nothing here learns from them."""
        return training_data

"""Start Rasa 3.6 (from .venv-rasa) with a speed fix and an evaluation fix.

Speed: Rasa checks every action-server and NLG-endpoint reply with
``jsonschema.validate``, which re-validates the (large) schema itself on every call:
about 30 ms each on our 2-core machines, which capped the REST channel at roughly 15
messages/s. Validating with a validator built once per schema gives the same result in
under 1 ms.

Evaluation: ``rasa test nlu`` leaves the entities of rule-based extractors (Duckling,
spaCy) out of its scores, since training data never annotates them. Our
``LocationEntities`` is rule-based too, so it is left out the same way; the CRF's
entities are scored as before.

Usage (same arguments as the ``rasa`` command)::

    .venv-rasa/bin/python intents/run_rasa.py run --enable-api -m intents/models ...
"""

from __future__ import annotations

import json
import sys
from typing import Any

import jsonschema
from jsonschema import exceptions, validators

_VALIDATORS: dict[str, Any] = {}


def _cached_validate(
    instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any
) -> None:
    """Drop-in for ``jsonschema.validate`` that checks each distinct schema only once."""
    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator_class = cls or validators.validator_for(schema)
        validator_class.check_schema(schema)
        validator = _VALIDATORS[key] = validator_class(schema, *args, **kwargs)
    error = exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def main() -> None:
    """Patch jsonschema and the evaluation, then hand over to Rasa's own command line."""
    jsonschema.validate = _cached_validate
    from rasa.shared.nlu.constants import PRETRAINED_EXTRACTORS

    PRETRAINED_EXTRACTORS.add("LocationEntities")
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()

"""Start Rasa 3.6 (from .venv-rasa) with speed fixes and an evaluation fix.

Each fix replaces a Rasa internal with one that gives the same result for less work;
measured with ``bench/chat_throughput.py`` (numbers in docs/performance.md):

- JSON-schema validators cached: Rasa checks every action-server and NLG-endpoint reply
  with ``jsonschema.validate``, which re-validates the (large) schema itself on every
  call: about 30 ms each on our 2-core machines, which capped the REST channel at
  roughly 15 messages/s. A validator built once per schema gives the same answer in
  under 1 ms.
- The model graph run in order, without dask: Rasa hands each parse and each
  prediction to dask's synchronous scheduler, whose task ordering and bookkeeping
  cost about as much as the sparse NLU pipeline itself. Our graphs are small chains
  run on one thread anyway, so a memoised depth-first walk computes the same nodes
  once each with the same inputs.
- Event and Slot subclasses listed once: Rasa walks the class tree again for every
  event it deserialises (every event of a conversation, on every message). Every such
  class is defined by the time the server answers (we define none of our own).
- The loaded model kept out of the garbage collector's full passes (``gc.freeze``):
  its half a million objects live as long as the process, yet every full collection
  walked them all, stopping every conversation on the server for a quarter to half a
  second each time. A model loaded later (``PUT /model``, the rolling update) is frozen
  likewise once it has replaced the old one, whose objects are thawed first so that
  they can be collected.

Evaluation: ``rasa test nlu`` leaves the entities of rule-based extractors (Duckling,
spaCy) out of its scores, since training data never annotates them. Our
``LocationEntities`` is rule-based too, so it is left out the same way; the CRF's
entities are scored as before.

Authentication: ``rasa run`` takes the token of its HTTP API from ``RASA_TOKEN`` in the
environment (as ``--auth-token``), so the token is not on the command line, where every
user of the machine can read it; Rasa itself reads it only from the command line.

Usage (same arguments as the ``rasa`` command)::

    .venv-rasa/bin/python intents/run_rasa.py run --enable-api -m intents/models ...
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
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


def _run_in_order(
    self: Any, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
) -> dict[str, Any]:
    """Drop-in for ``DaskGraphRunner.run``: the same graph, walked depth first.

    A task is ``(GraphNode, *names of the nodes it needs)``; an input is a plain
    ``(name, value)`` tuple, which is its own result, as dask treats it.
    """
    from rasa.engine.exceptions import GraphRunError

    run_targets = targets or self._graph_schema.target_names
    schemas = self.__dict__.setdefault("_minimal_schemas", {})
    key = tuple(run_targets)
    if key not in schemas:  # the model graph never changes: prune it once per target list
        schemas[key] = self._graph_schema.minimal_graph_schema(run_targets)
    graph = self._build_dask_graph(schemas[key])
    if inputs:
        self._add_inputs_to_graph(inputs, graph)
    results: dict[str, Any] = {}

    def compute(name: str) -> Any:
        if name not in results:
            task = graph[name]
            if callable(task[0]):
                results[name] = task[0](*(compute(need) for need in task[1:]))
            else:
                results[name] = task
        return results[name]

    try:
        return dict(compute(target) for target in run_targets)
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


def _frozen_after(load_agent: Any) -> Any:
    """Wrap Rasa's model loading so that what it loaded is frozen once it is up."""

    @functools.wraps(load_agent)
    async def load_then_freeze(*args: Any, **kwargs: Any) -> Any:
        agent = await load_agent(*args, **kwargs)
        gc.collect()
        gc.freeze()
        return agent

    return load_then_freeze


def _refrozen_on_swap(load_agent: Any) -> Any:
    """Wrap ``PUT /model``'s loading: thaw everything, freeze again after the swap.

    The handler replaces the running agent right after the load returns, without
    awaiting anything, so a callback scheduled then runs once the old model is garbage.
    """

    @functools.wraps(load_agent)
    async def load_then_refreeze(*args: Any, **kwargs: Any) -> Any:
        gc.unfreeze()
        agent = await load_agent(*args, **kwargs)
        asyncio.get_running_loop().call_soon(_collect_then_freeze)
        return agent

    return load_then_refreeze


def _collect_then_freeze() -> None:
    gc.collect()
    gc.freeze()


def _with_auth_token(argv: list[str], token: str) -> list[str]:
    """``rasa run``'s arguments with ``--auth-token`` added from the environment's token.

    Only this process's copy of the arguments changes; the one the system shows stays.
    """
    if not token or argv[1:2] != ["run"] or "--auth-token" in argv or "-t" in argv:
        return argv
    return [*argv, "--auth-token", token]


def main() -> None:
    """Apply the fixes above, then hand over to Rasa's own command line."""
    jsonschema.validate = _cached_validate
    import rasa.core.run
    import rasa.shared.utils.common
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.nlu.constants import PRETRAINED_EXTRACTORS

    DaskGraphRunner.run = _run_in_order  # type: ignore[method-assign]
    common = rasa.shared.utils.common
    # Its recursion looks the name up in its module, so the cache serves that too.
    common.all_subclasses = functools.lru_cache(maxsize=None)(common.all_subclasses)
    PRETRAINED_EXTRACTORS.add("LocationEntities")
    rasa.core.run.load_agent_on_start = _frozen_after(rasa.core.run.load_agent_on_start)
    import rasa.server

    rasa.server._load_agent = _refrozen_on_swap(rasa.server._load_agent)
    from rasa.__main__ import main as rasa_main

    sys.argv = _with_auth_token(["rasa", *sys.argv[1:]], os.environ.get("RASA_TOKEN", "").strip())
    rasa_main()


if __name__ == "__main__":
    main()

"""Rasa custom actions, served from our own app through rasa_sdk's executor.

Actions are built with their dependencies (engine, locator, time zone) rather than
reaching for globals, so :func:`build_executor` is the one place they are wired.
"""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

from bot.rasa.actions.context import ActionDeps
from bot.rasa.actions.handoff import ActionAnswerAbuse, ActionEscalate, ActionFallback
from bot.rasa.actions.location import ActionAskAreaCode
from bot.rasa.actions.outage import ActionCheckOutage, ActionSubscribe

__all__ = ["ActionDeps", "build_executor"]


def build_executor(deps: ActionDeps) -> ActionExecutor:
    """Return an executor that knows every action of ours, bound to ``deps``."""
    executor = ActionExecutor()
    for action in (
        ActionAskAreaCode(deps),
        ActionCheckOutage(deps),
        ActionSubscribe(deps),
        ActionEscalate(deps),
        ActionFallback(deps),
        ActionAnswerAbuse(deps),
    ):
        executor.register_action(action)
    return executor

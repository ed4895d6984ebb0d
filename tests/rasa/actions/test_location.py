"""``action_ask_area_code``: which question the form puts, from the tracker alone."""

from __future__ import annotations

from bot.messages import Variant
from bot.rasa.actions import ActionDeps
from bot.rasa.actions.location import ActionAskAreaCode
from tests.rasa.actions.conftest import action_event, run, said, tracker, user_event


def asked_then(text: str, intent: str) -> list[dict[str, object]]:
    """Events of a conversation whose latest message answers the bot's question for a place."""
    return [
        user_event("my internet is down", "report_outage"),
        action_event("action_ask_area_code"),
        user_event(text, intent),
    ]


async def test_the_first_time_the_area_code_is_asked_for(deps: ActionDeps) -> None:
    ran = await run(ActionAskAreaCode(deps), tracker("report_outage"))

    assert ran.texts == [said(deps, "utter_ask_area_code")]
    assert ran.events == []


async def test_not_knowing_the_code_is_met_with_a_question_about_the_town(
    deps: ActionDeps,
) -> None:
    events = asked_then("no idea what my area code is", "dont_know")

    ran = await run(ActionAskAreaCode(deps), tracker("dont_know", events=events))

    assert ran.texts == [said(deps, "utter_ask_town")]


async def test_an_answer_we_could_not_place_is_told_so_not_asked_again(deps: ActionDeps) -> None:
    events = asked_then("narnia", "inform")

    ran = await run(ActionAskAreaCode(deps), tracker("inform", events=events))

    assert ran.texts == [said(deps, "utter_location_not_found")]


async def test_a_question_asked_before_the_previous_message_does_not_count(
    deps: ActionDeps,
) -> None:
    events = [
        *asked_then("0113", "inform"),
        action_event("action_check_outage"),
        user_event("and my phone?", "report_outage"),
    ]

    ran = await run(ActionAskAreaCode(deps), tracker("report_outage", events=events))

    assert ran.texts == [said(deps, "utter_ask_area_code")]


async def test_a_public_mention_is_asked_without_inviting_a_full_number(deps: ActionDeps) -> None:
    ran = await run(ActionAskAreaCode(deps), tracker("report_outage", variant=Variant.X_PUBLIC))

    assert ran.texts == [said(deps, "utter_ask_area_code", Variant.X_PUBLIC)]
    assert ran.texts != [said(deps, "utter_ask_area_code", Variant.WEB)]

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messages import Variant
from bot.rasa.nlg import generate, values_of, variant_of
from bot.responses.store import ResponseStore
from bot.settings import Settings


def tracker(variant: object = None, slots: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata = {} if variant is None else {"variant": variant, "channel": "x"}
    return {"latest_message": {"metadata": metadata}, "slots": slots or {}}


@pytest.mark.parametrize(
    ("metadata_variant", "expected"),
    [
        ("x_public", Variant.X_PUBLIC),
        ("x_dm", Variant.X_DM),
        ("telegram", Variant.TELEGRAM),
        ("web", Variant.WEB),
        ("default", Variant.DEFAULT),
        (None, Variant.DEFAULT),
        ("carrier-pigeon", Variant.DEFAULT),
        (42, Variant.DEFAULT),
        ("", Variant.DEFAULT),
    ],
)
def test_variant_comes_from_the_latest_message_metadata(
    metadata_variant: object, expected: Variant
) -> None:
    assert variant_of(tracker(metadata_variant)) is expected


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"latest_message": None},
        {"latest_message": {}},
        {"latest_message": {"metadata": None}},
    ],
)
def test_missing_metadata_means_the_default_variant(broken: dict[str, Any]) -> None:
    assert variant_of(broken) is Variant.DEFAULT


def test_values_merge_slots_and_arguments_with_arguments_winning() -> None:
    payload = {
        "tracker": tracker(slots={"area_code": "0113", "place": "Leeds", "other_slot": "x"}),
        "arguments": {"place": "Headingley", "reference": "INC-1", "eta": None, "count": 3},
    }

    assert values_of(payload) == {
        "area_code": "0113",
        "place": "Headingley",
        "reference": "INC-1",
        "count": "3",
    }


def test_values_skip_unset_slots_and_tolerate_missing_parts() -> None:
    assert values_of({"tracker": tracker(slots={"area_code": None, "place": "Leeds"})}) == {
        "place": "Leeds"
    }
    assert values_of({}) == {}
    assert values_of({"tracker": None, "arguments": None}) == {}


@pytest.fixture
async def store(engine: AsyncEngine) -> ResponseStore:
    return await ResponseStore.open(engine, Settings().data_dir)


async def test_generate_renders_the_variant_with_slots_and_arguments(
    store: ResponseStore,
) -> None:
    payload = {
        "response": "utter_no_outage",
        "arguments": {"place": "Leeds"},
        "tracker": tracker("x_public", {"area_code": "0113", "place": "somewhere else"}),
        "channel": {"name": "collector"},
    }

    answer = generate(payload, store)

    template = store.text_for("utter_no_outage", Variant.X_PUBLIC)
    assert template != store.text_for("utter_no_outage", Variant.DEFAULT)
    assert answer == {"text": template.replace("{place}", "Leeds").replace("{area_code}", "0113")}


async def test_generate_accepts_the_older_template_field(store: ResponseStore) -> None:
    answer = generate({"template": "utter_holding", "tracker": tracker()}, store)

    assert answer == {"text": store.render("utter_holding", Variant.DEFAULT)}


async def test_generate_follows_a_comms_edit_at_once(store: ResponseStore) -> None:
    await store.save("utter_holding", "telegram", "Hang on, we're on it.", "comms")

    answer = generate({"response": "utter_holding", "tracker": tracker("telegram")}, store)

    assert answer == {"text": "Hang on, we're on it."}


@pytest.mark.parametrize("payload", [{}, {"response": ""}, {"response": 5}, {"template": None}])
def test_generate_without_a_response_name_is_a_value_error(payload: dict[str, Any]) -> None:
    class Unused:
        def render(self, key: str, variant: Variant, values: dict[str, str] | None = None) -> str:
            raise AssertionError("nothing to render")

    with pytest.raises(ValueError, match="names no response"):
        generate(payload, Unused())

"""The shipped responses file and loading it into a database that may already have edits."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.responses.catalogue import DEFAULTS_FILE, ResponseError, ensure_defaults, load_catalogue
from bot.responses.store import ResponseStore, is_macro
from bot.responses.templates import WORST_CASE, X_PUBLIC_LIMIT, render
from bot.settings import Settings

DATA = Settings().data_dir


def test_default_public_x_texts_fit_280_with_long_values_and_name_nobody() -> None:
    catalogue = load_catalogue(DATA / DEFAULTS_FILE)
    for entry in catalogue.values():
        if is_macro(entry.key):
            continue  # agents answer on X by direct message
        public = entry.texts.get("x_public", entry.texts["default"])
        assert len(render(public, WORST_CASE)) <= X_PUBLIC_LIMIT, entry.key
        assert "{name}" not in public, entry.key


def test_a_malformed_defaults_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('[utter_x]\nplaceholders = []\ndefault = "Hi {place}"\n')
    with pytest.raises(ResponseError, match=r"\[utter_x\] default: unknown placeholder"):
        load_catalogue(path)


async def test_ensure_defaults_fills_an_empty_database_once(engine: AsyncEngine) -> None:
    catalogue = load_catalogue(DATA / DEFAULTS_FILE)
    texts = sum(len(entry.texts) for entry in catalogue.values())
    assert await ensure_defaults(engine) == texts
    assert await ensure_defaults(engine) == 0


async def test_ensure_defaults_never_overwrites_edits(engine: AsyncEngine) -> None:
    responses = await ResponseStore.open(engine, DATA)
    await responses.save("utter_deny_ok", "default", "Right you are.", author="carol")
    assert await ensure_defaults(engine) == 0
    again = await ResponseStore.open(engine, DATA)
    assert again.text_for("utter_deny_ok") == "Right you are."


def test_catalogue_file_is_valid_toml() -> None:
    with (DATA / DEFAULTS_FILE).open("rb") as handle:
        assert tomllib.load(handle)

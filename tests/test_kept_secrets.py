"""Owner-only files under ``var/``: written whole, once, and shared by every process."""

from __future__ import annotations

import logging
import multiprocessing
import stat
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from bot import kept_secrets
from bot.kept_secrets import KeptSecretError, create_once, kept, write_first_run
from bot.settings import Secret, Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_is_generated_once_owner_only_then_read_back(tmp_path: Path) -> None:
    path = tmp_path / "var" / "callback-secret"

    first = kept(path)

    assert mode(path) == 0o600
    assert len(first.reveal()) == 43
    assert path.read_text() == first.reveal() + "\n"
    assert kept(path) == first  # the next start, or another worker
    assert [p.name for p in path.parent.iterdir()] == ["callback-secret"]  # no scratch left


def _kept_in_another_process(path: Path) -> str:
    return kept(path).reveal()


def test_workers_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "rasa-token"
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=spawn) as pool:
        values = set(pool.map(_kept_in_another_process, [path] * 16))

    assert values == {path.read_text().strip()}
    assert mode(path) == 0o600


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "first"

    assert create_once(path, "one\n")
    assert not create_once(path, "two\n")

    assert path.read_text() == "one\n"


def test_a_secret_file_others_could_read_is_made_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "callback-secret"
    path.write_text("an-operator-wrote-this-one\n")
    path.chmod(0o644)

    with caplog.at_level(logging.WARNING):
        assert kept(path) == Secret("an-operator-wrote-this-one")

    assert mode(path) == 0o600
    assert "readable by others" in caplog.text
    assert "an-operator-wrote-this-one" not in caplog.text


def test_an_empty_secret_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rasa-token"
    path.touch(mode=0o600)

    with pytest.raises(KeptSecretError, match="rasa-token is empty"):
        kept(path)


def test_configured_secrets_win_and_no_file_is_written(tmp_path: Path) -> None:
    settings = replace(
        Settings(),
        var_dir=tmp_path,
        callback_secret=Secret("configured-callback-secret"),
        rasa_token=Secret("configured-rasa-token"),
    )

    assert kept_secrets.callback_secret(settings) == Secret("configured-callback-secret")
    assert kept_secrets.rasa_token(settings) == Secret("configured-rasa-token")
    assert list(tmp_path.iterdir()) == []


def test_unset_secrets_are_kept_apart_in_var(tmp_path: Path) -> None:
    settings = replace(Settings(), var_dir=tmp_path)

    callback = kept_secrets.callback_secret(settings)
    token = kept_secrets.rasa_token(settings)

    assert callback != token
    assert kept_secrets.callback_secret(settings) == callback
    assert kept_secrets.rasa_token(settings) == token
    assert sorted(p.name for p in tmp_path.iterdir()) == ["callback-secret", "rasa-token"]


def test_first_run_credentials_are_owner_only_and_replace_an_older_run(tmp_path: Path) -> None:
    older = tmp_path / kept_secrets.FIRST_RUN_FILE
    older.write_text("user admin\npassword from-a-database-since-deleted\n")

    path = write_first_run(tmp_path, "user admin\npassword new\n")

    assert path == older
    assert path.read_text() == "user admin\npassword new\n"
    assert mode(path) == 0o600

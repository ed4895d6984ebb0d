from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.rasa import process as rasa_process
from bot.rasa.process import (
    LAUNCHER,
    RasaError,
    endpoints_yaml,
    model_is_current,
    model_path,
    train,
    training_hash,
)
from tests.conftest import RASA_TOKEN


@pytest.fixture
def intents(tmp_path: Path) -> Path:
    root = tmp_path / "intents"
    (root / "data").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "models").mkdir()
    (root / "config.yml").write_text("language: en\n")
    (root / "domain.yml").write_text("version: '3.1'\nintents: [greet]\n")
    (root / "data" / "nlu.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n")
    (root / "tests" / "test_stories.yml").write_text("stories: []\n")
    (root / "credentials.yml").write_text("rest:\n")
    return root


def stamp(intents: Path) -> None:
    model_path(intents).write_bytes(b"model")
    model_path(intents).with_name("outage-bot.sha256").write_text(training_hash(intents) + "\n")


def test_training_hash_follows_the_training_data(intents: Path) -> None:
    before = training_hash(intents)
    assert training_hash(intents) == before

    (intents / "data" / "nlu.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hey\n")
    after_edit = training_hash(intents)
    (intents / "data" / "extra").mkdir()
    (intents / "data" / "extra" / "rules.yml").write_text("rules: []\n")
    after_new_file = training_hash(intents)
    (intents / "domain.yml").write_text("version: '3.1'\nintents: [greet, bye]\n")
    after_domain = training_hash(intents)

    assert len({before, after_edit, after_new_file, after_domain}) == 4


def test_training_hash_ignores_tests_models_and_other_files(intents: Path) -> None:
    before = training_hash(intents)

    (intents / "tests" / "test_stories.yml").write_text("stories: [changed]\n")
    (intents / "tests" / "more.yml").write_text("x\n")
    (intents / "models" / "outage-bot.tar.gz").write_bytes(b"new model")
    (intents / "credentials.yml").write_text("socketio:\n")
    (intents / "endpoints.yml").write_text("nlg:\n")

    assert training_hash(intents) == before


def test_training_hash_notices_a_renamed_data_file(intents: Path) -> None:
    before = training_hash(intents)

    (intents / "data" / "nlu.yml").rename(intents / "data" / "nlu2.yml")

    assert training_hash(intents) != before


def test_model_is_current_needs_the_model_and_a_matching_stamp(intents: Path) -> None:
    assert not model_is_current(intents)

    stamp(intents)
    assert model_is_current(intents)

    (intents / "data" / "nlu.yml").write_text("nlu: []\n")
    assert not model_is_current(intents)

    stamp(intents)
    model_path(intents).unlink()
    assert not model_is_current(intents)


def test_train_skips_a_current_model_without_needing_rasa(
    intents: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rasa_process, "RASA_BIN", tmp_path / "no" / "rasa")
    stamp(intents)

    assert train(intents) is False


def test_train_without_rasa_installed_is_a_clear_error(
    intents: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no" / "rasa"
    monkeypatch.setattr(rasa_process, "RASA_BIN", missing)

    with pytest.raises(RasaError, match="make install-rasa") as caught:
        train(intents)
    assert str(missing) in str(caught.value)

    stamp(intents)
    with pytest.raises(RasaError):
        train(intents, force=True)


def test_train_reports_a_failed_training_run(
    intents: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = tmp_path / "rasa"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setattr(rasa_process, "RASA_BIN", failing)

    with pytest.raises(RasaError, match="exit code 3"):
        train(intents)
    assert not model_is_current(intents)


def test_two_trainings_at_once_train_once(
    intents: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two test workers (or ``make run`` beside a test run) wanting the model at once."""
    log = tmp_path / "rasa.log"
    slow = tmp_path / "rasa"
    slow.write_text(
        f"#!/bin/sh\necho start >> {log}\nsleep 0.5\n"
        f"printf model > models/outage-bot.tar.gz\necho end >> {log}\n"
    )
    slow.chmod(0o755)
    monkeypatch.setattr(rasa_process, "RASA_BIN", slow)

    with ThreadPoolExecutor(2) as pool:
        trained = sorted(pool.map(lambda _: train(intents), range(2)))

    assert trained == [False, True]
    assert log.read_text().split() == ["start", "end"]
    assert model_is_current(intents)


def test_endpoints_without_redis_point_rasa_at_our_app() -> None:
    text = endpoints_yaml("http://127.0.0.1:8080", None)

    assert text == (
        "action_endpoint:\n"
        '  url: "http://127.0.0.1:8080/webhooks/actions"\n'
        "  headers:\n"
        "    X-Outage-Bot-Secret: ${OUTAGE_BOT_CALLBACK_SECRET}\n"
        "nlg:\n"
        '  url: "http://127.0.0.1:8080/webhooks/nlg"\n'
        "  headers:\n"
        "    X-Outage-Bot-Secret: ${OUTAGE_BOT_CALLBACK_SECRET}\n"
        "tracker_store:\n"
        "  type: tracker_store.ExpiringTrackerStore\n"
        "  idle_hours: 48\n"
        "  max_conversations: 50000\n"
    )


def test_endpoints_with_redis_share_trackers_and_locks_there() -> None:
    text = endpoints_yaml("http://127.0.0.1:8080", "redis://cache.internal:6380/3")

    redis = '  url: "cache.internal"\n  port: 6380\n  db: 3\n'
    assert text.endswith(
        f"tracker_store:\n  type: tracker_store.SharedTrackerStore\n{redis}  idle_hours: 48\n"
        f"lock_store:\n  type: conversation_locks.SharedLockStore\n{redis}"
    )
    assert "password" not in text and "ExpiringTrackerStore" not in text


def test_endpoints_with_redis_defaults_and_password() -> None:
    text = endpoints_yaml("http://app", "redis://:hunter2@localhost")

    assert text.count('  url: "localhost"\n  port: 6379\n  db: 0\n  password: "hunter2"\n') == 2


def test_endpoints_with_an_escaped_redis_password_give_rasa_the_real_one() -> None:
    text = endpoints_yaml("http://app", "redis://:p%40ss%22word@localhost:6379/0")

    assert '  password: "p@ss\\"word"\n' in text


async def test_rasa_http_api_refuses_a_call_without_its_token(rasa_server: str) -> None:
    """Nothing on the network reads a conversation or swaps the model without the token."""
    tracker = f"{rasa_server}/conversations/someone/tracker"
    async with aiohttp.ClientSession() as session:
        for params in ({}, {"token": "guessed"}):
            for url in (tracker, f"{rasa_server}/status"):
                async with session.get(url, params=params) as response:
                    assert response.status == 401, url
            async with session.put(
                f"{rasa_server}/model", params=params, json={"model_file": "x.tar.gz"}
            ) as response:
                assert response.status == 401
        async with session.get(tracker, params={"token": RASA_TOKEN.reveal()}) as response:
            assert response.status == 200
            assert (await response.json())["sender_id"] == "someone"


def test_the_token_is_not_on_rasa_command_line(rasa_server: str) -> None:
    """Every user of the machine can read a command line; the token goes by environment."""
    port = str(urlsplit(rasa_server).port).encode()
    ours = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            arguments = path.read_bytes().split(b"\0")
            if any(a.endswith(LAUNCHER.encode()) for a in arguments) and port in arguments:
                ours.append(arguments)
    assert ours, "the Rasa child was not found"
    for arguments in ours:
        assert b"--auth-token" not in arguments
        assert not any(RASA_TOKEN.reveal().encode() in a for a in arguments)

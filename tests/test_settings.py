from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Secret, Settings, SettingsError

TOKEN = "123456:very-secret-token"
X_VARS = ("X_BEARER_TOKEN", "X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_SECRET")


def settings(env: dict[str, str], tmp_path: Path, file: str | None = None) -> Settings:
    env_file = tmp_path / "test.env"
    if file is not None:
        env_file.write_text(file)
    return Settings.from_env(environ=env, env_file=env_file)


def test_from_env_without_anything_gives_the_defaults(tmp_path: Path) -> None:
    loaded = settings({}, tmp_path)

    assert loaded == Settings()
    assert loaded.port == 8080
    assert loaded.host == "127.0.0.1"
    assert loaded.database_url.startswith("sqlite:///")
    assert loaded.tz == ZoneInfo("Europe/London")
    assert loaded.rasa_url is None
    assert loaded.redis_url is None
    assert loaded.telegram_bot_token is None
    assert loaded.x_poll_seconds == 15.0
    assert not loaded.telegram_enabled
    assert not loaded.x_enabled


def test_environment_beats_env_file_which_beats_defaults(tmp_path: Path) -> None:
    file = "OUTAGE_BOT_PORT=9000\nOUTAGE_BOT_HOST=0.0.0.0\nREDIS_URL=redis://file:6379/1\n"

    loaded = settings({"OUTAGE_BOT_PORT": "9100"}, tmp_path, file)

    assert loaded.port == 9100
    assert loaded.host == "0.0.0.0"
    assert loaded.redis_url == "redis://file:6379/1"
    assert loaded.rasa_port == 5005


def test_blank_values_count_as_unset(tmp_path: Path) -> None:
    loaded = settings({"OUTAGE_BOT_PORT": "  ", "DATABASE_URL": ""}, tmp_path, "RASA_URL=\n")

    assert loaded.port == 8080
    assert loaded.database_url == Settings().database_url
    assert loaded.rasa_url is None


def test_urls_lose_their_trailing_slash(tmp_path: Path) -> None:
    loaded = settings(
        {"RASA_URL": "http://127.0.0.1:5005/", "X_API_URL": "http://127.0.0.1:9/"}, tmp_path
    )

    assert loaded.rasa_url == "http://127.0.0.1:5005"
    assert loaded.x_api_url == "http://127.0.0.1:9"


def test_rasa_url_may_list_several_servers(tmp_path: Path) -> None:
    loaded = settings({"RASA_URL": "http://rasa-1:5005/, http://rasa-2:5005,"}, tmp_path)

    assert loaded.rasa_urls == ("http://rasa-1:5005", "http://rasa-2:5005")
    assert settings({}, tmp_path).rasa_urls == ()


def test_one_rasa_child_per_core_up_to_four_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for cores, expected in ((None, 1), (1, 1), (2, 2), (16, 4)):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert settings({}, tmp_path).rasa_processes == expected
    assert settings({"OUTAGE_BOT_RASA_PROCESSES": "3"}, tmp_path).rasa_processes == 3
    with pytest.raises(SettingsError, match="OUTAGE_BOT_RASA_PROCESSES"):
        settings({"OUTAGE_BOT_RASA_PROCESSES": "0"}, tmp_path)


def test_numbers_and_time_zone_are_parsed(tmp_path: Path) -> None:
    loaded = settings(
        {
            "OUTAGE_BOT_PORT": "8181",
            "OUTAGE_BOT_RASA_PORT": "5105",
            "X_POLL_SECONDS": "2.5",
            "OUTAGE_BOT_TZ": "America/New_York",
        },
        tmp_path,
    )

    assert (loaded.port, loaded.rasa_port, loaded.x_poll_seconds) == (8181, 5105, 2.5)
    assert isinstance(loaded.port, int)
    assert loaded.tz == ZoneInfo("America/New_York")


def test_flood_limit_defaults_to_twenty_a_minute_and_zero_turns_it_off(tmp_path: Path) -> None:
    assert settings({}, tmp_path).flood_limit == 20
    assert settings({"OUTAGE_BOT_FLOOD_LIMIT": "5"}, tmp_path).flood_limit == 5
    assert settings({"OUTAGE_BOT_FLOOD_LIMIT": "0"}, tmp_path).flood_limit == 0


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("OUTAGE_BOT_PORT", "eighty"),
        ("OUTAGE_BOT_PORT", "80.5"),
        ("OUTAGE_BOT_PORT", "0"),
        ("OUTAGE_BOT_RASA_PORT", "-5"),
        ("X_POLL_SECONDS", "soon"),
        ("X_POLL_SECONDS", "-1"),
        ("X_POLL_SECONDS", "nan"),
        ("X_POLL_SECONDS", "inf"),
        ("OUTAGE_BOT_TZ", "Mars/Olympus_Mons"),
        ("OUTAGE_BOT_TZ", "../etc/passwd"),
        ("OUTAGE_BOT_FLOOD_LIMIT", "twenty"),
        ("OUTAGE_BOT_FLOOD_LIMIT", "-1"),
        ("OUTAGE_BOT_FLOOD_LIMIT", "2.5"),
        ("OUTAGE_BOT_FLOOD_LIMIT", "\u0663"),
        ("OUTAGE_BOT_FLOOD_LIMIT", "100001"),
    ],
)
def test_bad_values_raise_a_one_line_error_naming_the_variable(
    name: str, raw: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError) as caught:
        settings({name: raw}, tmp_path)

    message = str(caught.value)
    assert name in message
    assert "\n" not in message
    assert caught.value.__cause__ is None


def test_bad_value_in_env_file_is_reported_too(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="OUTAGE_BOT_PORT"):
        settings({}, tmp_path, "OUTAGE_BOT_PORT=http\n")


def test_secrets_never_show_in_repr_str_or_f_strings(tmp_path: Path) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TOKEN + "-hook",
        **{name: f"{TOKEN}-{name}" for name in X_VARS},
    }
    loaded = settings(env, tmp_path)
    token = loaded.telegram_bot_token
    assert token is not None

    shown = [
        repr(loaded),
        str(loaded),
        f"{loaded}",
        f"{loaded!r}",
        "%s %r" % (loaded, loaded),  # noqa: UP031 - the logging style must hide it too
        repr(token),
        str(token),
        f"{token}",
        f"{token!r}",
        "%s" % token,  # noqa: UP031
        repr([token]),
        repr({"token": token}),
    ]

    for text in shown:
        assert "very-secret" not in text, text
    assert "**********" in repr(loaded)
    assert token.reveal() == TOKEN


def test_secret_compares_by_value_and_is_falsy_when_empty() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert hash(Secret("a")) == hash(Secret("a"))
    assert not Secret("")
    assert Secret("a")


def test_telegram_is_enabled_by_its_token(tmp_path: Path) -> None:
    assert settings({"TELEGRAM_BOT_TOKEN": TOKEN}, tmp_path).telegram_enabled
    assert not settings({"TELEGRAM_WEBHOOK_SECRET": TOKEN}, tmp_path).telegram_enabled


def test_x_is_enabled_only_with_every_credential(tmp_path: Path) -> None:
    every = {name: "value" for name in X_VARS}
    assert settings(every, tmp_path).x_enabled
    for missing in X_VARS:
        partial = {name: value for name, value in every.items() if name != missing}
        assert not settings(partial, tmp_path).x_enabled, missing


def test_public_url_is_checked_and_defaults_to_the_listen_address(tmp_path: Path) -> None:
    given = settings({"OUTAGE_BOT_PUBLIC_URL": "https://help.example.com/"}, tmp_path)
    default = settings({"OUTAGE_BOT_PORT": "9100"}, tmp_path)
    everywhere = settings({"OUTAGE_BOT_HOST": "0.0.0.0"}, tmp_path)

    assert given.public_base_url == "https://help.example.com"
    assert default.public_base_url == "http://127.0.0.1:9100"
    assert everywhere.public_base_url == "http://localhost:8080"
    for bad in ("status.example.com", "ftp://example.com", "https://example.com/?a=1"):
        with pytest.raises(SettingsError, match="OUTAGE_BOT_PUBLIC_URL"):
            settings({"OUTAGE_BOT_PUBLIC_URL": bad}, tmp_path)


@pytest.mark.parametrize("name", ["OUTAGE_BOT_CALLBACK_SECRET", "RASA_TOKEN"])
def test_secrets_shared_with_rasa_are_wrapped_and_checked(name: str, tmp_path: Path) -> None:
    good = "Zx9_-.~!" * 4
    loaded = settings({name: good}, tmp_path)
    field = "callback_secret" if name == "OUTAGE_BOT_CALLBACK_SECRET" else "rasa_token"

    assert getattr(loaded, field) == Secret(good)
    assert good not in repr(loaded)
    assert getattr(settings({}, tmp_path), field) is None
    # A header value, a query string and Rasa's YAML: visible ASCII only, and not short.
    for bad in ("too-short", "has a space in it, sadly", "naïve-but-long-enough-value"):
        with pytest.raises(SettingsError, match=name) as caught:
            settings({name: bad}, tmp_path)
        assert bad not in str(caught.value)


def test_trusted_proxies_are_read_once_and_a_bad_one_stops_the_start(tmp_path: Path) -> None:
    assert settings({}, tmp_path).trusted_proxies == ()
    loaded = settings({"OUTAGE_BOT_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1"}, tmp_path)
    assert [str(n) for n in loaded.trusted_proxies] == ["10.0.0.0/8", "2001:db8::1/128"]
    with pytest.raises(SettingsError) as caught:
        settings({"OUTAGE_BOT_TRUSTED_PROXIES": "10.0.0.0/8, proxy"}, tmp_path)
    message = str(caught.value)
    assert message.startswith("OUTAGE_BOT_TRUSTED_PROXIES") and "'proxy'" in message
    assert "\n" not in message

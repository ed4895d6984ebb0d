"""Secrets out of logs: the real PTB client (httpx underneath) against the fake Bot API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
from telegram import Bot

from bot.redaction import MASK, QUIET, Redactor, redact_logs, secrets_of
from bot.settings import Secret, Settings
from tests.fakes.telegram_api import FakeTelegram

REAL_SHAPED = "7312650942:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
"""A token shaped like BotFather's (not a real one)."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(token=REAL_SHAPED)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def installed() -> Iterator[list[Redactor]]:
    """Take back the filters and logger levels a test installs."""
    levels = {name: logging.getLogger(name).level for name in QUIET}
    redactors: list[Redactor] = []
    yield redactors
    for handler in logging.getLogger().handlers:
        for redactor in redactors:
            handler.removeFilter(redactor)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def get_me(fake: FakeTelegram, token: str | None = None) -> None:
    async with Bot(token or fake.token, base_url=fake.api_url) as bot:
        await bot.get_me()


def settings_with(token: str, **secrets: str) -> Settings:
    return replace(
        Settings(),
        telegram_bot_token=Secret(token),
        **{name: Secret(value) for name, value in secrets.items()},
    )


async def test_httpx_puts_the_token_in_its_info_lines_unless_quietened(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture, installed: list[Redactor]
) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.INFO)
    await get_me(fake)
    assert REAL_SHAPED in caplog.text, "the leak this module exists for"
    caplog.clear()

    installed.append(redact_logs(settings_with(REAL_SHAPED)))
    await get_me(fake)
    assert "HTTP Request" not in caplog.text  # httpx is down to WARNING
    assert REAL_SHAPED not in caplog.text


async def test_a_line_that_still_gets_through_is_masked_by_the_tokens_shape(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture, installed: list[Redactor]
) -> None:
    installed.append(redact_logs(Settings()))  # no token configured: known by its shape
    logging.getLogger("httpx").setLevel(logging.INFO)  # say someone turns it back up
    caplog.set_level(logging.INFO)
    await get_me(fake)
    assert "HTTP Request" in caplog.text
    assert REAL_SHAPED not in caplog.text and f"/bot{MASK}/getMe" in caplog.text


async def test_configured_secrets_are_masked_in_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture, installed: list[Redactor]
) -> None:
    settings = settings_with("123456:TEST-token", x_api_secret="x-consumer-secret-value")
    installed.append(redact_logs(settings))
    log = logging.getLogger("bot.test")
    caplog.set_level(logging.INFO)
    log.info("calling %s with %r", "http://api/bot123456:TEST-token/x", "x-consumer-secret-value")
    try:
        raise RuntimeError("refused: x-consumer-secret-value")
    except RuntimeError:
        log.exception("the call failed")
    assert "TEST-token" not in caplog.text and "x-consumer-secret-value" not in caplog.text
    assert f"/bot{MASK}/x with '{MASK}'" in caplog.text
    assert f"RuntimeError: refused: {MASK}" in caplog.text


def test_every_secret_setting_is_known_and_short_values_are_left_alone() -> None:
    settings = settings_with("t" * 40, telegram_webhook_secret="hook-secret", x_bearer_token="ab")
    assert sorted(secrets_of(settings)) == sorted(["t" * 40, "hook-secret", "ab"])
    redactor = Redactor(secrets_of(settings))
    assert redactor.redact(f"a b {'t' * 40} hook-secret") == f"a b {MASK} {MASK}"


def test_tokens_in_url_queries_are_masked_whoever_made_them() -> None:
    line = "GET http://127.0.0.1:5005/status?token=kept-in-var&x=1 and /a?access_token=t0k"
    assert Redactor().redact(line) == (
        f"GET http://127.0.0.1:5005/status?token={MASK}&x=1 and /a?access_token={MASK}"
    )


def test_a_malformed_call_is_left_to_the_handler_to_report() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d", ("not a number",), None)
    assert Redactor(["secret-value"]).filter(record)
    assert record.args == ("not a number",)

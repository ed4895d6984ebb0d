"""Input limits: oversized texts and bodies, and bodies that are not JSON, get JSON 4xx.

The whole app from its own factory (no Rasa: none of these requests reaches it).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from bot.web.chat import MAX_TEXT
from bot.web.limits import MAX_BODY
from tests.web.conftest import Staff


async def _json(staff: Staff, method: str, path: str, **kwargs: object) -> tuple[int, object]:
    async with staff.client.request(method, path, **kwargs) as response:  # type: ignore[arg-type]
        assert response.content_type == "application/json", await response.text()
        return response.status, (await response.json())["error"]


async def test_chat_text_over_the_limit_is_413_with_the_reason(staff: Staff) -> None:
    status, error = await _json(
        staff, "POST", "/api/chat", json={"sender": "big", "text": "x" * (MAX_TEXT + 1)}
    )
    assert (status, error) == (413, f"'text' must be at most {MAX_TEXT} characters")
    hundred_kb = "broadband down " * 7000
    status, error = await _json(
        staff, "POST", "/api/chat", json={"sender": "big", "text": hundred_kb}
    )
    assert status == 413


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/chat"),
        ("POST", "/login"),
        ("POST", "/api/incidents"),
        ("POST", "/webhooks/nlg"),
        ("GET", "/healthz"),  # a route that never reads a body
        ("POST", "/no/such/route"),
    ],
)
async def test_a_body_over_1_mb_is_413_json_on_any_route(
    staff: Staff, method: str, path: str
) -> None:
    headers = {"Authorization": f"Bearer {staff.tokens['admin']}", "Content-Type": "text/plain"}
    status, error = await _json(
        staff, method, path, data=io.BytesIO(b"x" * (MAX_BODY + 1)), headers=headers
    )
    assert (status, error) == (413, "the body must be at most 1 MB")


async def test_a_streamed_body_over_1_mb_is_413_json_too(staff: Staff) -> None:
    """Without Content-Length the size is only known while reading: aiohttp's own 413."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b"[" * 65536

    headers = {"Content-Type": "application/json"}
    status, error = await _json(staff, "POST", "/api/chat", data=chunks(), headers=headers)
    assert (status, error) == (413, "the body must be at most 1 MB")


async def test_a_body_just_under_1_mb_is_read(staff: Staff) -> None:
    body = b'{"sender": "s", "text": "' + b" " * (MAX_BODY - 40) + b'"}'
    status, error = await _json(
        staff,
        "POST",
        "/api/chat",
        data=io.BytesIO(body),
        headers={"Content-Type": "application/json"},
    )
    assert (status, error) == (400, "'text' must be a non-empty string")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_chat_answers_415_unless_the_body_is_json(staff: Staff, content_type: str) -> None:
    status, error = await _json(
        staff,
        "POST",
        "/api/chat",
        data=b'{"sender": "s", "text": "hi"}',
        headers={"Content-Type": content_type},
    )
    assert status == 415
    assert error == "the body must be JSON (Content-Type: application/json)"


async def test_chat_without_a_content_type_is_415(staff: Staff) -> None:
    status, _ = await _json(staff, "POST", "/api/chat", data=b'{"sender": "s", "text": "hi"}')
    assert status == 415

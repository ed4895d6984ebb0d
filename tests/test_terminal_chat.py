"""``outage-bot chat`` as staff use it: the real command in its own process, typed into,
against the live app (or the service it starts itself) and the real Rasa server."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.keys import engine_key
from bot.messages import Variant
from bot.responses.store import ResponseStore
from bot.settings import Settings
from bot.terminal_chat import KeptIdentity
from tests.conftest import CALLBACK_SECRET, RASA_TOKEN, LiveApp, add_outage
from tests.web.conftest import add_staff

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


class Terminal:
    """The command's standard input and output, as a person at a terminal has them."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = ""
        self._read_to = 0

    async def type(self, line: str) -> None:
        """Type ``line`` and press Enter."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()

    async def expect(self, fragment: str, within: float = 20) -> str:
        """What the command printed up to and including ``fragment``, since the last expect."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + within
        while (found := self.output.find(fragment, self._read_to)) < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {fragment!r} within {within} s in:\n{self.output}")
            try:
                chunk = await asyncio.wait_for(self.process.stdout.read(4096), timeout=left)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"the command ended before {fragment!r}:\n{self.output}")
            self.output += chunk.decode()
        seen = self.output[self._read_to : found + len(fragment)]
        self._read_to = found + len(fragment)
        return seen

    async def quit(self) -> tuple[int, str]:
        """Ctrl-D; the exit status and whatever went to standard error."""
        assert self.process.stdin is not None and self.process.stderr is not None
        self.process.stdin.close()
        errors = await asyncio.wait_for(self.process.stderr.read(), timeout=30)
        return await asyncio.wait_for(self.process.wait(), timeout=30), errors.decode()


OpenTerminal = Callable[[dict[str, str]], Awaitable[Terminal]]


@pytest.fixture
async def terminal() -> AsyncIterator[OpenTerminal]:
    """Start ``outage-bot chat`` with extra environment; killed afterwards if still running.

    Every terminal of one test chats as the same customer, a new one for each test (they
    keep their chat secrets in the checkout's ``var/``, shared with other test processes).
    """
    started: list[Terminal] = []
    sender = f"terminal-test-{uuid.uuid4().hex[:12]}"

    async def start(environment: dict[str, str]) -> Terminal:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "chat",
            "--sender",
            sender,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **environment},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(Terminal(process))
        return started[-1]

    yield start
    for opened in started:
        if opened.process.returncode is None:
            opened.process.kill()
            await opened.process.wait()


def at(live: LiveApp) -> dict[str, str]:
    host, port = live.url.removeprefix("http://").split(":")
    return {"OUTAGE_BOT_HOST": host, "OUTAGE_BOT_PORT": port}


async def test_answers_about_an_outage_and_a_follow_up_in_context(
    live_app: LiveApp, terminal: OpenTerminal
) -> None:
    reference = await add_outage(live_app.app, ["0161"])
    chat = await terminal(at(live_app))
    await chat.expect("you> ")  # the first prompt

    await chat.type("broadband down in 0161")
    apology = await chat.expect("you> ")
    assert "bot> " in apology and reference in apology, apology
    await chat.type("when will it be fixed")
    follow_up = await chat.expect("you> ")
    assert "Manchester" in follow_up, follow_up

    status, errors = await chat.quit()
    assert (status, errors) == (0, "")


async def test_an_agents_reply_shows_up_between_the_customers_messages(
    live_app: LiveApp, terminal: OpenTerminal
) -> None:
    tokens = await add_staff(live_app.app[engine_key])
    chat = await terminal(at(live_app))
    await chat.type("i want to talk to a real person")
    await chat.expect("[conversation is escalated]")

    headers = {"Authorization": f"Bearer {tokens['agent']}"}
    async with live_app.client.get(f"{live_app.url}/api/escalations", headers=headers) as got:
        [entry] = (await got.json())["escalations"]
    reply = f"{live_app.url}/api/conversations/{entry['conversation_id']}/reply"
    text = {"text": "Hello, Sam here: an engineer is on the way."}
    async with live_app.client.post(reply, headers=headers, json=text) as sent:
        assert sent.status == 200, await sent.text()

    later = await chat.expect("Sam here", within=10)  # nothing typed meanwhile
    assert "bot> Hello, Sam here" in later
    assert (await chat.quit())[0] == 0

    # Run again, the conversation carries on: the chat secret was kept in var/.
    again = await terminal(at(live_app))
    await again.expect("you> ")  # the first prompt
    await again.type("are you still there?")
    answer = await again.expect("you> ")
    assert "[conversation is agent]" in answer and "error" not in answer, answer
    assert (await again.quit()) == (0, "")


def test_an_install_keeps_its_own_sender_and_the_secrets_for_the_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "var" / "chat-identity.json"
    kept = KeptIdentity(path)
    sender = kept.sender()
    assert sender.startswith("terminal-") and sender != "terminal"
    assert kept.headers(sender) == {}
    kept.keep(sender, "s3cret")
    assert path.stat().st_mode & 0o777 == 0o600

    again = KeptIdentity(path)
    assert again.sender() == sender
    assert again.headers(sender) == {"X-Chat-Secret": "s3cret"}
    assert again.renew() != sender
    assert KeptIdentity(tmp_path / "elsewhere.json").sender() != sender  # random per install


async def test_starts_the_service_itself_when_none_runs_and_keeps_its_log_out_of_sight(
    engine: AsyncEngine, database_url: str, rasa_server: str, app_port: int, terminal: OpenTerminal
) -> None:
    chat = await terminal(
        {
            "OUTAGE_BOT_HOST": "127.0.0.1",
            "OUTAGE_BOT_PORT": str(app_port),  # where the Rasa server calls back
            "RASA_URL": rasa_server,
            "DATABASE_URL": database_url,
            "OUTAGE_BOT_CALLBACK_SECRET": CALLBACK_SECRET.reveal(),
            "RASA_TOKEN": RASA_TOKEN.reveal(),
        }
    )
    starting = await chat.expect("you> ", within=60)
    assert "No server running" in starting and "ready in" in starting, starting

    await chat.type("hi")
    greeting = await chat.expect("you> ")
    store = await ResponseStore.open(engine, Settings().data_dir)
    assert f"bot> {store.render('utter_greet', Variant.WEB)}" in greeting, greeting
    status, errors = await chat.quit()
    assert status == 0
    assert "INFO" not in chat.output + errors, "log lines belong in var/chat.log"

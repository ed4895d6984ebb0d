"""``outage-bot chat``: the web-chat channel in a terminal, for staff trying the bot out.

It talks to the server at ``OUTAGE_BOT_HOST:PORT`` like the /chat page does, or, when
none answers, starts the whole service in this process first and waits until Rasa can
answer (rather than give the first messages the holding reply). Like the page, it shows
what arrives later too: an agent's replies, answers that waited for Rasa, fix notices.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
from aiohttp import web

from bot.cli import UsageError
from bot.rasa.process import RasaError, train
from bot.settings import Settings
from bot.web.app import create_app

UPDATES_SECONDS = 3.0
"""How often replies that arrive later are looked for, as the /chat page does."""
READY_WITHIN = 300.0
"""How long to wait for a local Rasa before chatting anyway (its start is 30-60 s)."""
PROMPT = "you> "


async def _health(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    """The server's /healthz body, or ``None`` when nothing answers there."""
    try:
        async with session.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as got:
            body: dict[str, Any] = await got.json(content_type=None)
            return body
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


async def _start_here(
    settings: Settings, session: aiohttp.ClientSession, url: str
) -> web.AppRunner:
    """The whole service in this process; returns once Rasa answers, or after a while.

    Its log goes to a file: log lines between the turns of a conversation would bury it.
    """
    log_file = settings.var_dir / "chat.log"
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=log_file,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    print(f"No server running; starting one here (its log: {log_file}).")
    if not settings.rasa_url:
        await asyncio.to_thread(train, settings.intents_dir)
    runner = web.AppRunner(create_app(settings, demo=True))
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    print("Waiting for Rasa (about half a minute)", end="", flush=True)
    started = time.monotonic()
    while time.monotonic() - started < READY_WITHIN:
        health = await _health(session, url)
        if health is not None and health.get("rasa") == "ok":
            print(f" ready in {time.monotonic() - started:.0f} s.")
            return runner
        print(".", end="", flush=True)
        await asyncio.sleep(1.0)
    print(" not yet: your messages are kept and answered once it is.")
    return runner


def _show(body: dict[str, Any]) -> None:
    for reply in body["replies"]:
        print(f"bot> {reply['text']}")
    if body["conversation"]["state"] != "bot":
        print(f"[conversation is {body['conversation']['state']}]")


async def _show_later_replies(session: aiohttp.ClientSession, url: str, sender: str) -> None:
    """Print replies that arrive between the customer's messages, then the prompt again."""
    while True:
        await asyncio.sleep(UPDATES_SECONDS)
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
            async with session.get(
                f"{url}/api/chat/updates", params={"sender": sender}
            ) as response:
                body = await response.json()
            if response.status == 200 and body["replies"]:
                print()
                _show(body)
                print(PROMPT, end="", flush=True)


async def chat(settings: Settings, sender: str) -> None:
    """Talk to the bot as web-chat customer ``sender`` until end of input."""
    url = f"http://{settings.host}:{settings.port}"
    runner: web.AppRunner | None = None
    async with aiohttp.ClientSession() as session:
        if await _health(session, url) is None:
            runner = await _start_here(settings, session, url)
        print("Type your message and press Enter; Ctrl-D to quit.")
        later = asyncio.create_task(_show_later_replies(session, url, sender))
        try:
            while True:
                try:
                    text = await asyncio.to_thread(input, PROMPT)
                except EOFError:
                    print()
                    break
                if not text.strip():
                    continue
                async with session.post(
                    f"{url}/api/chat", json={"sender": sender, "text": text}
                ) as response:
                    body = await response.json()
                if response.status != 200:
                    print(f"error: {body.get('error', response.status)}")
                    continue
                _show(body)
        finally:
            later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await later
            if runner is not None:
                await runner.cleanup()


def chat_command(args: argparse.Namespace, settings: Settings) -> int:
    """``outage-bot chat``: talk to the bot in this terminal."""
    try:
        asyncio.run(chat(settings, args.sender))
    except RasaError as error:
        raise UsageError(str(error)) from None
    return 0

"""``outage-bot chat``: the web-chat channel in a terminal, for staff trying the bot out.

It talks to the server at ``OUTAGE_BOT_HOST:PORT`` like the /chat page does, or, when
none answers, starts the whole service in this process first and waits until Rasa can
answer (rather than give the first messages the holding reply). Like the page, it shows
what arrives later too: an agent's replies, answers that waited for Rasa, fix notices.

Like any web-chat customer it must prove its conversation is its own: the chat secret
the server issues with the first answer is kept, beside this install's own random
sender name, in ``var/chat-identity.json`` (readable by its owner only) and sent in
``X-Chat-Secret`` with every later message, so a conversation carries on across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.cli import UsageError
from bot.rasa.process import RasaError, train
from bot.redaction import redact_logs
from bot.settings import Settings
from bot.web.app import create_app

UPDATES_SECONDS = 3.0
"""How often replies that arrive later are looked for, as the /chat page does."""
READY_WITHIN = 300.0
"""How long to wait for a local Rasa before chatting anyway (its start is 30-60 s)."""
PROMPT = "you> "
IDENTITY_FILE = "chat-identity.json"


class KeptIdentity:
    """This install's sender name and the chat secrets the server issued, kept in a file.

    The file is written whole and replaced (never half-written), readable by its owner
    only: a secret in it lets anyone continue that conversation.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):
            kept = {}
        own = kept.get("sender") if isinstance(kept, dict) else None
        given = kept.get("secrets") if isinstance(kept, dict) else None
        self.own_sender: str | None = own if isinstance(own, str) else None
        self.secrets: dict[str, str] = {
            str(name): str(secret) for name, secret in (given or {}).items()
        }

    def sender(self) -> str:
        """This install's own sender name (made up, and kept, on first use)."""
        if self.own_sender is None:
            self.renew()
        assert self.own_sender is not None
        return self.own_sender

    def renew(self) -> str:
        """A new sender name of our own: the old conversation can no longer be continued."""
        self.own_sender = f"terminal-{secrets.token_hex(6)}"
        self._save()
        return self.own_sender

    def headers(self, sender: str) -> dict[str, str]:
        """The request headers that prove ``sender``'s conversation is ours."""
        secret = self.secrets.get(sender)
        return {"X-Chat-Secret": secret} if secret else {}

    def keep(self, sender: str, secret: str) -> None:
        """Remember the secret the server issued for ``sender``."""
        self.secrets[sender] = secret
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"sender": self.own_sender, "secrets": self.secrets}, out)
        partial.replace(self.path)


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
    redact_logs(settings)
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


class Customer:
    """Who this terminal chats as: a sender and the means to prove it."""

    def __init__(self, kept: KeptIdentity, sender: str | None) -> None:
        self.kept = kept
        self.chosen = sender is not None
        self.sender = sender if sender is not None else kept.sender()

    def headers(self) -> dict[str, str]:
        """The headers for a request as this customer."""
        return self.kept.headers(self.sender)

    async def send(self, session: aiohttp.ClientSession, url: str, text: str) -> None:
        """Send one message and print the answer (or why there is none)."""
        status, body = await self._post(session, url, text)
        if status == 403 and not self.chosen:
            # Our secret for it is gone (another database, a lost file): start anew.
            self.sender = self.kept.renew()
            print("[the earlier conversation cannot be continued; starting a new one]")
            status, body = await self._post(session, url, text)
        if status != 200:
            print(f"error: {body.get('error', status)}")
            return
        _show(body)

    async def _post(
        self, session: aiohttp.ClientSession, url: str, text: str
    ) -> tuple[int, dict[str, Any]]:
        async with session.post(
            f"{url}/api/chat", json={"sender": self.sender, "text": text}, headers=self.headers()
        ) as response:
            body: dict[str, Any] = await response.json()
        if isinstance(body.get("chat_secret"), str):
            self.kept.keep(self.sender, body["chat_secret"])
        return response.status, body


async def _show_later_replies(
    session: aiohttp.ClientSession, url: str, customer: Customer
) -> None:
    """Print replies that arrive between the customer's messages, then the prompt again."""
    while True:
        await asyncio.sleep(UPDATES_SECONDS)
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
            async with session.get(
                f"{url}/api/chat/updates",
                params={"sender": customer.sender},
                headers=customer.headers(),
            ) as response:
                body = await response.json()
            if response.status == 200 and body["replies"]:
                print()
                _show(body)
                print(PROMPT, end="", flush=True)


async def chat(settings: Settings, sender: str | None) -> None:
    """Talk to the bot as web-chat customer ``sender`` (default: this install's own)."""
    url = f"http://{settings.host}:{settings.port}"
    customer = Customer(KeptIdentity(settings.var_dir / IDENTITY_FILE), sender)
    runner: web.AppRunner | None = None
    async with aiohttp.ClientSession() as session:
        if await _health(session, url) is None:
            runner = await _start_here(settings, session, url)
        print("Type your message and press Enter; Ctrl-D to quit.")
        later = asyncio.create_task(_show_later_replies(session, url, customer))
        try:
            while True:
                try:
                    text = await asyncio.to_thread(input, PROMPT)
                except EOFError:
                    print()
                    break
                if text.strip():
                    await customer.send(session, url, text)
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

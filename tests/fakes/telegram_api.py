"""A fake Telegram Bot API server: the methods python-telegram-bot calls, on 127.0.0.1.

The real PTB client talks to it over HTTP exactly as it would to api.telegram.org
(``TELEGRAM_API_URL=http://127.0.0.1:PORT/bot``). Tests drive it from the other side:
``inject`` queues updates for ``getUpdates`` (long polling with Telegram's offset
semantics: an update is confirmed, and dropped, once ``getUpdates`` is called with a
higher offset), ``push_webhook`` delivers an update to the registered webhook the way
Telegram does (with the secret-token header), ``fail`` scripts 429s, 5xx and 4xx answers,
and ``sent`` records every ``sendMessage`` in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

BOT_USER: dict[str, Any] = {
    "id": 7000001,
    "is_bot": True,
    "first_name": "Outage Bot",
    "username": "outage_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# Parameters PTB sends JSON-encoded (everything else arrives as a plain string).
_JSON_PARAMS = {
    "chat_id",
    "offset",
    "limit",
    "timeout",
    "allowed_updates",
    "reply_parameters",
    "reply_to_message_id",
    "drop_pending_updates",
    "max_connections",
    "link_preview_options",
    "disable_notification",
}


@dataclass(frozen=True)
class SentMessage:
    """One ``sendMessage`` the fake accepted."""

    chat_id: int
    text: str
    message_id: int
    parse_mode: str | None
    reply_to_message_id: int | None
    at: float


@dataclass
class Failure:
    """A scripted error answer for the next call(s) of one method."""

    status: int
    description: str
    retry_after: int | None = None
    times: int = 1


@dataclass
class Webhook:
    """What ``setWebhook`` registered."""

    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None


@dataclass
class FakeTelegram:
    """The fake server's state; ``start()`` serves it, ``close()`` stops it."""

    token: str = "123456:TEST-token"
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    call_times: list[float] = field(default_factory=list)
    served: Counter[int] = field(default_factory=Counter)
    rejected: int = 0
    webhook: Webhook = field(default_factory=Webhook)
    failures: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    _next_update_id: itertools.count[int] = field(default_factory=lambda: itertools.count(500))
    _next_message_id: itertools.count[int] = field(default_factory=lambda: itertools.count(9000))
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    _closing: bool = False
    api_url: str = ""

    # -- serving ---------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve on a random loopback port; return the ``TELEGRAM_API_URL`` to use."""
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        app.router.add_get("/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.api_url = f"http://{host}:{port}/bot"
        return self.api_url

    async def close(self) -> None:
        """Wake pending long polls and stop serving."""
        self._closing = True
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notify(self) -> None:
        if self._changed is None:
            return
        async with self._changed:
            self._changed.notify_all()

    # -- the test's side -------------------------------------------------------------------

    async def inject(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` for ``getUpdates`` (an ``update_id`` is assigned if missing)."""
        update = dict(update)
        update.setdefault("update_id", next(self._next_update_id))
        self.updates.append(update)
        await self._notify()
        return update

    def fail(
        self,
        method: str,
        status: int,
        description: str = "",
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of serving them."""
        self.failures[method].append(
            Failure(status, description or f"Scripted error {status}", retry_after, times)
        )

    async def push_webhook(self, update: dict[str, Any], secret: str | None = None) -> int:
        """POST ``update`` to the registered webhook as Telegram would; return the status.

        ``secret`` overrides the registered secret token (to test rejection).
        """
        if not self.webhook.url:
            raise AssertionError("no webhook is registered")
        update = dict(update)
        update.setdefault("update_id", next(self._next_update_id))
        token = self.webhook.secret_token if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        async with (
            ClientSession() as session,
            session.post(self.webhook.url, json=update, headers=headers) as response,
        ):
            await response.read()
            return response.status

    async def wait_sent(self, count: int, within: float = 10.0) -> list[SentMessage]:
        """Wait until at least ``count`` messages were sent; return them all."""
        assert self._changed is not None
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.sent) >= count)
        return list(self.sent)

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``method`` so far."""
        return [params for name, params in self.calls if name == method]

    def method_times(self, method: str) -> list[float]:
        """When each call of ``method`` arrived (event-loop clock)."""
        return [
            at for (name, _), at in zip(self.calls, self.call_times, strict=True) if name == method
        ]

    # -- building updates ------------------------------------------------------------------

    def message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        chat_type: str = "private",
        user_id: int | None = None,
        first_name: str = "Ann",
        username: str | None = "ann_customer",
        entities: list[dict[str, Any]] | None = None,
        reply_to_bot: bool = False,
        extra: dict[str, Any] | None = None,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """Return an update carrying one customer message (not yet queued)."""
        sender: dict[str, Any] = {
            "id": user_id if user_id is not None else abs(chat_id),
            "is_bot": False,
            "first_name": first_name,
        }
        if username:
            sender["username"] = username
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = "Neighbours"
        message: dict[str, Any] = {
            "message_id": message_id if message_id is not None else next(self._next_message_id),
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
        }
        if text is not None:
            message["text"] = text
            if entities is None and text.startswith("/"):
                command = text.split()[0]
                entities = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            if entities:
                message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": next(self._next_message_id),
                "date": int(time.time()),
                "chat": chat,
                "from": BOT_USER,
                "text": "Earlier answer",
            }
        message.update(extra or {})
        return {"message": message}

    def mention(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        """Return a group message mentioning the bot (``@username`` must be inside ``text``)."""
        handle = f"@{BOT_USER['username']}"
        offset = text.index(handle)
        entity = {"type": "mention", "offset": offset, "length": len(handle)}
        kwargs.setdefault("chat_type", "group")
        return self.message(chat_id, text, entities=[entity], **kwargs)

    # -- serving the Bot API ---------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            self.rejected += 1
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        self.call_times.append(asyncio.get_running_loop().time())
        failure = self._take_failure(method)
        if failure is not None:
            return _error(failure.status, failure.description, failure.retry_after)
        handler = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._close,
            "logOut": self._close,
        }.get(method)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return await handler(params)

    def _take_failure(self, method: str) -> Failure | None:
        queue = self.failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.popleft()
        return failure

    async def _get_me(self, _params: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook.url:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = min(int(params.get("limit") or 100), 100)
        timeout = float(params.get("timeout") or 0)
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changed:
            while True:
                if offset > 0:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                batch = [u for u in self.updates if u["update_id"] >= offset][:limit]
                remaining = deadline - loop.time()
                if batch or remaining <= 0 or self._closing:
                    self.served.update(u["update_id"] for u in batch)
                    return _ok(batch)
                try:
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()
                except TimeoutError:
                    pass

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        text = str(params.get("text", ""))
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        chat_id = int(params["chat_id"])
        if chat_id == 403:
            return _error(403, "Forbidden: bot was blocked by the user")
        reply_to = params.get("reply_to_message_id")
        if isinstance(params.get("reply_parameters"), dict):
            reply_to = params["reply_parameters"].get("message_id")
        message_id = next(self._next_message_id)
        loop = asyncio.get_running_loop()
        self.sent.append(
            SentMessage(
                chat_id=chat_id,
                text=text,
                message_id=message_id,
                parse_mode=params.get("parse_mode"),
                reply_to_message_id=int(reply_to) if reply_to is not None else None,
                at=loop.time(),
            )
        )
        await self._notify()
        chat_type = "private" if chat_id > 0 else "group"
        return _ok(
            {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": chat_type},
                "from": BOT_USER,
                "text": text,
            }
        )

    async def _set_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = Webhook(
            url=str(params.get("url", "")),
            secret_token=params.get("secret_token"),
            allowed_updates=params.get("allowed_updates"),
        )
        if params.get("drop_pending_updates"):
            self.updates.clear()
        await self._notify()
        return _ok(True)

    async def _delete_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = Webhook()
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return _ok(True)

    async def _get_webhook_info(self, _params: dict[str, Any]) -> web.Response:
        pending = 0 if self.webhook.url else len(self.updates)
        return _ok(
            {
                "url": self.webhook.url,
                "has_custom_certificate": False,
                "pending_update_count": pending,
            }
        )

    async def _close(self, _params: dict[str, Any]) -> web.Response:
        return _ok(True)


async def _params(request: web.Request) -> dict[str, Any]:
    """Read a Bot API call's parameters from a query, form or JSON body, as Telegram does."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw.update(await request.json())
        return raw
    if request.can_read_body:
        form = await request.post()
        raw.update({key: value for key, value in form.items() if isinstance(value, str)})
    for key in _JSON_PARAMS & raw.keys():
        if isinstance(raw[key], str):
            with contextlib.suppress(ValueError):
                raw[key] = json.loads(raw[key])
    return raw


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)

"""``GET /console/events``: a WebSocket that tells staff consoles when to refresh.

The console's views stay the plain REST calls; this socket only says ``changed`` within
about a second of a customer writing, a reply going out or a hand-off moving, so
consoles need not poll every few seconds. Each worker watches the database itself (one
small query a second, only while a console is connected) rather than its own events,
so a change made through any worker reaches every console.

A signed-in browser is known by its session cookie when the socket opens (checked, with
the page's ``Origin``, in :func:`bot.web.escalations_api.events`). Scripts cannot put an
``Authorization`` header on a WebSocket, so their API token comes in the first frame,
``{"token": "..."}``, and never in the URL (where proxies log it). An unknown token
closes the socket with code 4401 and the reason. A frame that :mod:`bot.untrusted`
refuses (too deep, NUL, lone surrogates, control characters) gets an error frame with
the reason, and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot import untrusted
from bot.models import User
from bot.sessions.store import SessionsUnavailable
from bot.untrusted import Untrusted
from bot.web.errors import fail

log = logging.getLogger(__name__)

HELLO_SECONDS = 10.0
"""How long a new socket may take to send its token."""

CLOSE_SECONDS = 2.0
"""How long closing waits for the other side's answer, so a stop is not held up."""

RECHECK_SECONDS = 10.0
"""How often an open socket's session or token is checked again."""

REFUSED = object()
"""What :func:`_check_frame` returns for a frame it refused (``None`` is JSON's null)."""

Activity = Callable[[], Awaitable[tuple[Any, ...]]]
Check = Callable[[], Awaitable[bool]]
Authenticate = Callable[[str], Awaitable[User | None]]


class ConsoleEvents:
    """The open console sockets of this worker and the watcher that tells them of changes."""

    def __init__(
        self, activity: Activity, authenticate: Authenticate, interval: float = 1.0
    ) -> None:
        """Watch ``activity`` (:func:`bot.handoff.queue.activity`) for known staff.

        Every staff role may see the queue, as through ``GET /api/escalations``.
        """
        self._activity = activity
        self._authenticate = authenticate
        self._interval = interval
        self._sockets: set[web.WebSocketResponse] = set()
        self._watcher: asyncio.Task[None] | None = None

    async def serve(
        self, request: web.Request, user: User | None = None, signed_in: Check | None = None
    ) -> web.WebSocketResponse:
        """Handle one console's socket until it closes.

        ``user`` is the signed-in browser's, and ``signed_in`` says whether its session
        still lives; with ``None`` the first frame must carry an API token.
        """
        socket = web.WebSocketResponse(heartbeat=30.0, timeout=CLOSE_SECONDS)
        if not socket.can_prepare(request).ok:
            fail(web.HTTPBadRequest, "this is a WebSocket: connect with 'Upgrade: websocket'")
        await socket.prepare(request)
        if user is None or signed_in is None:
            token = await self._hello(socket)
            if token is None:
                return socket
            user, signed_in = token
        self._sockets.add(socket)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="console-events")
        guard = asyncio.create_task(_guard(socket, signed_in), name="console-guard")
        try:
            await socket.send_json({"type": "ready", "user": user.name})
            async for message in socket:  # nothing is expected; this waits for the close
                if message.type == WSMsgType.ERROR:
                    break
                if message.type == WSMsgType.TEXT:
                    await _check_frame(socket, message.data)
        finally:
            self._sockets.discard(socket)
            guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await guard
        return socket

    async def _hello(self, socket: web.WebSocketResponse) -> tuple[User, Check] | None:
        """The user the first frame's token belongs to, and a check that it still is valid.

        ``None`` when it is not valid (the socket is closed).
        """
        deadline = asyncio.get_running_loop().time() + HELLO_SECONDS
        hello: object = REFUSED
        while hello is REFUSED:
            try:
                message = await socket.receive(
                    timeout=max(0.0, deadline - asyncio.get_running_loop().time())
                )
            except TimeoutError:
                await _refuse(socket, 4401, 'send {"token": ...} first')
                return None
            if message.type != WSMsgType.TEXT:
                break
            hello = await _check_frame(socket, message.data)
        token = hello.get("token") if isinstance(hello, dict) else None
        token = token if isinstance(token, str) else ""
        user = await self._authenticate(token) if token else None
        if user is None:
            await _refuse(socket, 4401, "the API token is not valid")
            return None

        async def still_valid() -> bool:
            return await self._authenticate(token) is not None

        return user, still_valid

    async def _watch(self) -> None:
        """Tell every socket when the console's data changed; stops when none is left."""
        seen: tuple[Any, ...] | None = None
        while self._sockets:
            now: tuple[Any, ...] | None = seen
            try:
                now = await self._activity()
            except Exception:  # a database blip must not end the consoles' updates
                log.exception("could not check for console changes")
            if seen is not None and now != seen:
                await asyncio.gather(
                    *(_tell(socket, {"type": "changed"}) for socket in list(self._sockets))
                )
            seen = now
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        """Close every socket (the server is stopping) and the watcher."""
        await asyncio.gather(
            *(
                socket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
                for socket in list(self._sockets)
            )
        )
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher


async def _guard(socket: web.WebSocketResponse, signed_in: Check) -> None:
    """Close the socket once its session or token has ended.

    Signed out, disabled or revoked: checked every :data:`RECHECK_SECONDS`.
    """
    while True:
        await asyncio.sleep(RECHECK_SECONDS)
        try:
            valid = await signed_in()
        except SessionsUnavailable:  # Redis down: not a sign-out; its requests log it
            continue
        except Exception:  # a database blip is not a sign-out
            log.exception("could not check a console's session")
            continue
        if not valid:
            await _refuse(socket, 4401, "signed out")
            return


async def _refuse(socket: web.WebSocketResponse, code: int, reason: str) -> None:
    await socket.send_json({"type": "error", "error": reason})
    await socket.close(code=code, message=reason.encode()[:120])


async def _check_frame(socket: web.WebSocketResponse, data: str) -> object:
    """The frame's JSON, or :data:`REFUSED` after telling the sender why.

    A refused frame gets ``{"type": "error", "error": reason}`` and the socket stays
    open: a console that sent something odd should not lose its updates over it.
    """
    try:
        return untrusted.parse_json(data, "the frame")
    except Untrusted as error:
        await _tell(socket, {"type": "error", "error": str(error)})
        return REFUSED


async def _tell(socket: web.WebSocketResponse, event: dict[str, str]) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await socket.send_json(event)

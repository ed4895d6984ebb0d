"""Following a rolling model update from the command line, through the service's API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp


class ReloadRefused(RuntimeError):
    """The service did not start the update; the message says why."""


async def follow_reload(
    url: str, token: str, say: Callable[[str], object], every: float = 1.0
) -> dict[str, Any]:
    """Start a rolling update at ``url`` (or follow the running one) until it ends.

    Each server's step is said once, as it happens. Returns the final progress.

    Raises:
        ReloadRefused: the service is unreachable or refused (token, role).
    """
    headers = {"Authorization": f"Bearer {token}"}
    endpoint = f"{url}/api/rasa/reload"
    seen: set[tuple[str, str]] = set()
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.post(endpoint) as response:
                body = await response.json()
                if response.status == 409:
                    say("a model update is already running; following it")
                elif response.status != 202:
                    raise ReloadRefused(str(body.get("error", f"HTTP {response.status}")))
            while True:
                async with session.get(endpoint) as response:
                    progress: dict[str, Any] = (await response.json())["reload"]
                for step in progress["servers"]:
                    if (step["server"], step["state"]) not in seen:
                        seen.add((step["server"], step["state"]))
                        detail = f" ({step['detail']})" if step["detail"] else ""
                        say(f"{step['server']}: {step['state']}{detail}")
                if not progress["running"]:
                    say(f"failed: {progress['error']}" if progress["error"] else "all reloaded")
                    return progress
                await asyncio.sleep(every)
    except (aiohttp.ClientError, ValueError) as exc:
        raise ReloadRefused(f"the service at {url} did not answer: {type(exc).__name__}") from exc

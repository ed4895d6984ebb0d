"""How a call to our actions and NLG endpoints proves it comes from our Rasa servers.

Those endpoints are on the public port, and running a custom action can open an
escalation or a subscription; so every call must carry the shared secret in a header.
Rasa 3.6 sends fixed headers with both kinds of call (``headers:`` under
``action_endpoint`` and ``nlg`` in its endpoints file, ``rasa.utils.endpoints``), and
expands ``${VAR}`` in plain YAML scalars, so the secret reaches Rasa through its
environment and never sits in a file of its own.
"""

from __future__ import annotations

import hmac

from bot.settings import Secret

HEADER = "X-Outage-Bot-Secret"
VARIABLE = "OUTAGE_BOT_CALLBACK_SECRET"
"""The environment variable the Rasa servers read the secret from (and we, when set)."""


def endpoint_headers() -> list[str]:
    """The lines under an endpoint of Rasa's endpoints file that make it send the secret.

    Unquoted on purpose: Rasa expands ``${VAR}`` only in plain YAML scalars.
    """
    return ["  headers:", f"    {HEADER}: ${{{VARIABLE}}}"]


class Refusal(Exception):
    """A call that is not from our Rasa: ``status`` 401 (no secret) or 403 (a wrong one)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check(sent: str | None, secret: Secret) -> None:
    """Accept the header's value ``sent`` only if it is ``secret``, in constant time.

    Raises:
        Refusal: the header is missing or wrong.
    """
    if sent is None:
        raise Refusal(401, f"this endpoint is for Rasa only: the {HEADER} header is missing")
    expected = secret.reveal().encode()
    # aiohttp keeps undecodable header bytes as surrogates; they can only mismatch.
    if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected):
        raise Refusal(403, f"this endpoint is for Rasa only: the {HEADER} header is wrong")

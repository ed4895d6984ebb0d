"""What we accept from outside: JSON and text that every layer behind us can store and show.

Every JSON body and WebSocket frame is parsed here (``bot.web.errors.read_json``, the
console socket), so one rule decides what is refused and why:

- nesting deeper than :data:`MAX_DEPTH` (Python's parser recurses, and a few thousand
  brackets would otherwise end in a ``RecursionError``, a 500);
- NUL characters, which PostgreSQL cannot store in text (SQLite can: the two databases
  must not differ in what they accept);
- lone surrogates (half of a UTF-16 pair, escaped in JSON: valid JSON but no valid
  Unicode, so encoding it to UTF-8 fails wherever it is written next);
- other control characters (everything but tab, line feed and carriage return): they
  have no place in a message and forge lines in logs and terminals.

Customers on Telegram and X cannot be refused (their platform already accepted the
message), so :func:`storable` mends their text instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
"""How deeply arrays and objects may nest; our own bodies nest two or three deep."""

MAX_SHOWN = 80
"""How much of a field's name a reason repeats (names are the sender's too)."""
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


class Untrusted(ValueError):
    """Input refused; the message says why, in words fit for the sender.

    Attributes:
        unprocessable: the input is well-formed but holds what we do not accept
            (HTTP 422), rather than not being what was asked for at all (400).
    """

    def __init__(self, reason: str, *, unprocessable: bool = False) -> None:
        super().__init__(reason)
        self.unprocessable = unprocessable


def _describe(char: str) -> str:
    code = ord(char)
    if code == 0:
        return "a NUL character (U+0000)"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X})"
    return f"a control character (U+{code:04X})"


def check_text(value: str, where: str) -> str:
    """Return ``value`` if it holds none of the characters we refuse.

    Args:
        value: the text.
        where: how the sender knows this value (a field name), for the reason.

    Raises:
        Untrusted: it holds a NUL, a lone surrogate or a control character other than
            tab, line feed and carriage return.
    """
    found = _FORBIDDEN.search(value)
    if found is not None:
        shown = where if len(where) <= MAX_SHOWN else where[: MAX_SHOWN - 3] + "..."
        raise Untrusted(f"{shown} contains {_describe(found.group())}", unprocessable=True)
    return value


def parse_json(raw: bytes | str, what: str = "the body", *, check_strings: bool = True) -> Any:
    """Parse ``raw`` as JSON and check every string in it (keys too) with :func:`check_text`.

    Args:
        raw: the JSON text.
        what: how the sender knows it, for the reasons.
        check_strings: ``False`` for a platform's payload (Telegram's webhook), whose
            strings are the customer's and are mended with :func:`storable` instead.

    Raises:
        Untrusted: not UTF-8, not JSON, nested too deeply, or holding a refused character.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise Untrusted(f"{what} must be UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise Untrusted(f"{what} nests more than {MAX_DEPTH} levels deep") from None
    except ValueError:
        raise Untrusted(f"{what} must be JSON") from None
    _check_tree(value, what, check_strings)
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's parser takes NaN and Infinity


def _check_tree(value: Any, what: str, check_strings: bool) -> None:
    """Walk the parsed value without recursion: its depth is what is being checked."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, str):
            if check_strings:
                check_text(item, f"'{path}'" if path else what)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth >= MAX_DEPTH:
            raise Untrusted(f"{what} nests more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, child in item.items():
                if check_strings:
                    check_text(key, f"a key in '{path}'" if path else f"a key in {what}")
                pending.append((child, f"{path}.{key}" if path else key, depth + 1))
        else:
            for index, child in enumerate(item):
                pending.append((child, f"{path}[{index}]", depth + 1))


def storable(text: str) -> str:
    """``text`` with NULs and lone surrogates replaced by U+FFFD, so any database keeps it.

    For what a platform already accepted from a customer (Telegram, X): refusing it
    would lose their message, and the replacement character shows where something was.
    """
    return _UNSTORABLE.sub(REPLACEMENT, text)

"""How a reply's text is cut to fit Telegram: at most 4096 characters per message.

Replies are sent as plain text (no ``parse_mode``). Comms staff edit the templates and the
values put into them (incident titles, causes, place names) come from people too; with
HTML or MarkdownV2 every ``<``, ``&``, ``_`` or ``*`` in them would have to be escaped,
and one missed character makes Telegram reject the whole message ("can't parse
entities"). Plain text shows whatever was written, literally, and links still work, so
there is nothing to escape and nothing to get wrong.

Telegram counts the limit in UTF-16 code units (an emoji outside the Basic Multilingual
Plane counts twice), so that is what :func:`split_text` measures.
"""

from __future__ import annotations

import re

MESSAGE_LIMIT = 4096
"""The Bot API's maximum length of one text message, in UTF-16 code units."""

_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*\s+")


def utf16_length(text: str) -> int:
    """Return the length of ``text`` as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """Return how many characters of ``text`` fit in ``limit`` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _cut(window: str) -> int:
    """Where to end a part cut from ``window``: the latest natural boundary in it.

    Paragraphs beat lines, lines beat sentences, sentences beat words; a boundary in the
    first half of the window is passed over for a weaker one nearer the end, so parts do
    not come out needlessly short. A single "word" longer than the window is cut hard.
    """
    half = len(window) // 2
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at > half:
            return at + len(separator)
    ends = [match.end() for match in _SENTENCE_END.finditer(window)]
    if ends and ends[-1] > half:
        return ends[-1]
    at = max(window.rfind(" "), window.rfind("\t"))
    if at > 0:
        return at + 1
    return len(window)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into messages of at most ``limit`` UTF-16 code units each.

    Cuts fall at paragraph, line, sentence or word boundaries (in that order of
    preference); whitespace at a cut is dropped, everything else is kept in order.

    Args:
        text: the reply as rendered from its template.
        limit: the per-message maximum (Telegram's 4096 unless a test says otherwise).

    Returns:
        The parts, in order; empty if ``text`` is only whitespace.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if utf16_length(rest) <= limit:
            parts.append(rest)
            break
        window = rest[: max(1, _fitting_prefix(rest, limit))]
        at = _cut(window)
        part = rest[:at].rstrip()
        if part:
            parts.append(part)
        rest = rest[at:].lstrip()
    return parts

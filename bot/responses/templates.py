"""Canned-response templates: named placeholders only, checked when saved, cheap to render.

Comms staff write texts such as ``"Sorry, {place} ({area_code}) has a fault. Fixed {eta}."``.
``str.format`` would let such a text reach attributes (``{eta.__class__}``), index into
values or run format specs, so this module has its own tiny grammar instead:

- ``{name}`` where ``name`` is one of :data:`PLACEHOLDERS` (lower case, underscores);
- ``{{`` and ``}}`` for literal braces;
- nothing else: no attribute or index access, no ``!r`` conversions, no ``:format`` specs.

Problems are found by :func:`validate` when a text is saved (the console shows them), never
at send time: :func:`render` of a valid template cannot fail, and a placeholder without a
value renders as an empty string rather than breaking a customer's reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

PLACEHOLDERS: dict[str, str] = {
    "place": "the customer's town, e.g. Manchester",
    "area_code": "the customer's area code, e.g. 0161",
    "eta": 'when the fix is expected, e.g. "by about 17:45 today"',
    "reference": "the incident reference, e.g. INC-20260720-0001",
    "cause": "the customer-facing cause of the incident",
    "title": "the incident title",
    "services": 'what is affected, e.g. "broadband and phone"',
    "resolved_at": 'when the fault was fixed, e.g. "at 14:05 today"',
    "name": "the customer's display name",
    "previous_eta": 'the fix time the customer was told before, e.g. "by about 16:00 today"',
    "status_url": "the public status page; its page for the customer's area when known",
    "position": "the customer's place in the queue for a person, e.g. 3",
    "waited": 'how long the customer has waited for a person, e.g. "20 minutes"',
}
"""Every placeholder any template may use, with what it stands for (shown in the console)."""

EVERYWHERE = ("status_url",)
"""Placeholders every response may use, whatever its own list says: the status link suits
a holding reply on a busy day as much as an apology."""

X_PUBLIC_LIMIT = 280
"""An X reply's length limit; public variants are checked against it on save."""

WORST_CASE: dict[str, str] = {
    "place": "Bromyard (Knightwick/Leigh Sinton)",
    "area_code": "01387 2",
    "eta": "by about 14:00 on Wednesday 30 September 2027",
    "reference": "INC-20261125-0001",
    "cause": "a power failure at a partner's site in London",
    "title": "Broadband and phone outage in London and the surrounding area",
    "services": "broadband, phone and TV",
    "resolved_at": "at 14:05 on Wednesday 30 September",
    "name": "Alexandra Montgomery-Smythe",
    "previous_eta": "by about 13:30 on Wednesday 30 September 2027",
    "status_url": "https://status.example-broadband.co.uk/status/area/013873",
    "position": "1250",
    "waited": "11 hours 50 minutes",
}
"""Long but real values used to check that a public X variant stays within 280 characters.

``cause`` and ``title`` are longer in a few incidents; :func:`clip` is the send-time
safety net for those.
"""

_TOKEN = re.compile(r"\{\{|\}\}|\{([a-z_][a-z0-9_]*)\}|\{|\}")


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and placeholder names, alternating.

    Attributes:
        parts: literal strings (even positions) and placeholder names (odd positions).
        problems: why the text is not a valid template; empty when it is.
    """

    parts: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def placeholders(self) -> frozenset[str]:
        """The names this template substitutes."""
        return frozenset(self.parts[1::2])


@lru_cache(maxsize=4096)
def parse(text: str) -> Template:
    """Parse ``text`` once; results are cached because the same texts render all day."""
    parts: list[str] = []
    literal: list[str] = []
    problems: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token == "{{":
            literal.append("{")
        elif token == "}}":
            literal.append("}")
        elif match.group(1) is not None:
            parts.append("".join(literal))
            parts.append(match.group(1))
            literal = []
        else:
            problems.append(_brace_problem(text, match.start(), token))
    literal.append(text[position:])
    parts.append("".join(literal))
    return Template(tuple(parts), tuple(problems))


def _brace_problem(text: str, at: int, token: str) -> str:
    if token == "}":
        return f"unmatched '}}' at character {at + 1} (write '}}}}' for a literal brace)"
    closing = text.find("}", at)
    if closing == -1:
        return f"unclosed '{{' at character {at + 1} (write '{{{{' for a literal brace)"
    inner = text[at + 1 : closing]
    return (
        f"'{{{inner}}}' at character {at + 1} is not a placeholder: use a plain name "
        "such as {place}; attribute access, indexes and format specs are not allowed"
    )


def validate(text: str, allowed: Iterable[str], *, max_length: int | None = None) -> list[str]:
    """Return every reason ``text`` cannot be saved; an empty list means it is fine.

    Args:
        text: the template as typed by comms staff.
        allowed: the placeholders this response may use.
        max_length: when set (public X replies), the limit the text must keep after
            rendering with :data:`WORST_CASE` values.
    """
    problems: list[str] = []
    if not text.strip():
        problems.append("the text is empty")
    template = parse(text)
    problems.extend(template.problems)
    permitted = set(allowed)
    for name in template.parts[1::2]:
        if name not in permitted:
            known = ", ".join("{" + p + "}" for p in sorted(permitted)) or "none"
            problems.append(f"unknown placeholder {{{name}}} (this response may use: {known})")
    if max_length is not None and not template.problems:
        rendered = render(text, WORST_CASE)
        if len(rendered) > max_length:
            problems.append(
                f"too long: up to {len(rendered)} characters with long place names and "
                f"ETAs, the limit is {max_length}"
            )
    return list(dict.fromkeys(problems))


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute ``values`` into ``text``; missing values render as empty text.

    Invalid templates are rejected on save, so at send time a stray brace is shown as
    written rather than raising in the middle of a customer's conversation.
    """
    template = parse(text)
    if template.problems:
        return text
    parts = template.parts
    if len(parts) == 1:
        return parts[0]
    out = [parts[0]]
    for index in range(1, len(parts), 2):
        out.append(values.get(parts[index], ""))
        out.append(parts[index + 1])
    return "".join(out)


def clip(text: str, limit: int) -> str:
    """Shorten ``text`` to ``limit`` characters at a word boundary, ending with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if text[limit - 1] != " " and space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"

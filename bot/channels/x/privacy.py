"""Keeping customers' personal details out of public X replies.

A mention is public, and so is our reply to it. Whatever a template or an agent writes,
a public reply must not repeat a customer's phone number, full postcode, email address,
account number or street address. :func:`redact` finds those and puts a neutral phrase in
their place; the X adapter then adds the "please DM us" invitation, because a reply that
mentioned personal details was about something that belongs in a private conversation.

What stays: area codes ("0161") and postcode districts ("M1", "SW1A") name an area shared
by thousands of people, which is exactly what outage replies talk about, and freephone,
shared-cost and non-geographic service numbers (0800, 0345, 03xx) are the company's own.

The checks are deliberately eager: a false positive costs a slightly vaguer reply, a
false negative costs a customer's privacy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

# Numbers a business publishes; any other full number may belong to a customer.
_SERVICE_NUMBER_TYPES = frozenset(
    {
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN,
        PhoneNumberType.PREMIUM_RATE,
    }
)
_FULL_NUMBER_DIGITS = 9  # a UK national number has 9-10 digits; area codes have 2-4.

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})\b", re.IGNORECASE)
_ACCOUNT_LABELLED = re.compile(
    r"\b((?:account|acct|customer)\s*(?:number|no\.?|#|id)?\s*[:#]?\s*)([A-Z]{0,3}\d[\dA-Z-]{3,})",
    re.IGNORECASE,
)
# Long digit runs (or 4-digit groups like card numbers) that are not phone numbers.
_DIGIT_RUN = re.compile(r"(?<![\w/:.-])(?:\d{6,}|\d{4}(?:[ -]\d{4}){1,3})(?![\w/:-])")
_STREET = re.compile(
    r"\b\d{1,4}[A-Z]?,? +(?:[A-Z][a-z]+ +){1,3}"
    r"(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Close|Drive|Dr|Way|Crescent|Court|Place|"
    r"Gardens|Grove|Terrace|Walk|Mews|Square|Hill|Row|Park)\b"
)


@dataclass(frozen=True, slots=True)
class Redaction:
    """A text with personal details replaced, and which kinds were found.

    Attributes:
        text: the text safe to post publicly.
        found: kinds of details removed, in the order checked (empty when none).
    """

    text: str
    found: tuple[str, ...]


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in phonenumbers.PhoneNumberMatcher(
        text, "GB", leniency=phonenumbers.Leniency.POSSIBLE
    ):
        number = match.number
        if len(str(number.national_number)) < _FULL_NUMBER_DIGITS:
            continue
        if phonenumbers.number_type(number) in _SERVICE_NUMBER_TYPES:
            continue
        spans.append((match.start, match.end))
    return spans


def _replace_spans(text: str, spans: list[tuple[int, int]], phrase: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + phrase + text[end:]
    return text


def redact(text: str) -> Redaction:
    """Replace personal details in ``text`` with neutral phrases.

    Links are left alone. Emails go first (their digits must not be read as phone
    numbers), then phone numbers, labelled account numbers, street addresses, full
    postcodes (cut to their district) and finally any remaining long digit run.
    """
    found: list[str] = []
    # Links (status pages) are ours and full of digits; set them aside untouched.
    urls = _URL.findall(text)
    for index, url in enumerate(urls):
        text = text.replace(url, f"\ue000{index}\ue001", 1)

    def sub(pattern: re.Pattern[str], kind: str, replacement: str, value: str) -> str:
        new, count = pattern.subn(replacement, value)
        if count:
            found.append(kind)
        return new

    text = sub(_EMAIL, "email", "your email address", text)
    spans = _phone_spans(text)
    if spans:
        found.append("phone")
        text = _replace_spans(text, spans, "your number")
    text = sub(_ACCOUNT_LABELLED, "account", r"\1(removed)", text)
    text = sub(_STREET, "address", "your address", text)
    text = sub(_POSTCODE, "postcode", lambda m: m.group(1).upper(), text)  # type: ignore[arg-type]
    text = sub(_DIGIT_RUN, "number", "(number removed)", text)
    for index, url in enumerate(urls):
        text = text.replace(f"\ue000{index}\ue001", url, 1)
    return Redaction(text=text, found=tuple(found))


def public_reply(text: str, dm_invite: str) -> str:
    """Return ``text`` fit to post publicly: redacted, with ``dm_invite`` if it had details."""
    redaction = redact(text)
    if not redaction.found:
        return text
    return f"{redaction.text} {dm_invite}".strip()

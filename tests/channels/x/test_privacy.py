from __future__ import annotations

import pytest

from bot.channels.x.privacy import public_reply, redact


@pytest.mark.parametrize(
    ("text", "hidden", "kind"),
    [
        ("no dial tone on 020 7946 0321", "7946 0321", "phone"),
        ("ring me on +44 161 496 0000", "496 0000", "phone"),
        ("mobile 07700 900123", "900123", "phone"),
        ("I'm at SW1A 1AA", "1AA", "postcode"),
        ("postcode ls6 2ab", "2ab", "postcode"),
        ("email jo.bloggs+x@example.co.uk", "jo.bloggs", "email"),
        ("account number 12345678", "12345678", "account"),
        ("acct no: AB123456", "AB123456", "account"),
        ("card 1234 5678 9012 3456", "9012", "number"),
        ("I live at 12 Acacia Avenue", "Acacia", "address"),
    ],
)
def test_personal_details_are_removed(text: str, hidden: str, kind: str) -> None:
    result = redact(text)
    assert hidden not in result.text
    assert kind in result.found


@pytest.mark.parametrize(
    "text",
    [
        "There's a fault in Manchester (0161), fixed by 17:30 today.",
        "Phone lines in the M1 and SW1A districts are affected.",
        "Call us free on 0800 800 150 or 0345 600 7000.",
        "Details: https://status.example.com/incidents/123456789",
        "Incident INC-20261125-0042 was updated on 2026-11-25 at 09:00.",
        "Replying to @customer123 about Leeds.",
    ],
)
def test_area_level_and_company_details_stay(text: str) -> None:
    assert redact(text).text == text
    assert redact(text).found == ()


def test_a_reply_with_details_invites_the_customer_to_dm() -> None:
    reply = public_reply("We can see 020 7946 0321 is affected.", "Please DM us.")
    assert reply == "We can see your number is affected. Please DM us."


def test_a_reply_without_details_is_left_alone() -> None:
    assert (
        public_reply("Fault in 020, fixed by 5pm.", "Please DM us.")
        == "Fault in 020, fixed by 5pm."
    )

"""``outage-bot locate``: the area code and place a customer's text points at.

Needs no database (the locator reads the bundled data files), so bulk checks of wording
run anywhere; one answer per line keeps it usable in a pipe.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.locations.locator import Locator


def locator(settings: Settings) -> Locator:
    """Return the locator over the data files in ``settings.data_dir``."""
    from bot.locations.locator import Locator

    return Locator.from_data(settings.data_dir)


def locate_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print ``CODE<TAB>PLACE`` (or ``-``) for the text, or for each line of stdin."""
    found = locator(settings)

    def answer(text: str) -> str:
        location = found.locate(text)
        return f"{location.area_code}\t{location.place}" if location is not None else "-"

    if args.text:
        print(answer(" ".join(args.text)))
        return 0
    for line in sys.stdin:
        print(answer(line.rstrip("\r\n")), flush=True)
    return 0

"""Where a customer is: free text to a UK geographic area code and its place name.

Customers say where they are in four ways, tried in this order because the earlier ones
are the less ambiguous: a telephone number or bare area code ("0161 496 0000",
"+44 (0)161 496 0000", "(0161)"), a full postcode ("M1 1AE"), a town ("in leeds",
"machester") and an outward postcode alone ("LS6", "sw1a"). Mobiles and non-geographic
numbers (07, 03, 08, 09) say nothing about place and are skipped. A code outside Ofcom's
plan (01632, the drama range) gives ``None``: a wrong town would send the customer the
wrong outage.

Everything is read once by :meth:`Locator.from_data`; :meth:`Locator.locate` is then pure
and runs in tens of microseconds. Full numbers are checked against the fixed-line patterns
of ``phonenumbers``' own metadata, compiled once, which is the check
``phonenumbers.is_valid_number`` makes without its parsing overhead (about 70 µs a number).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from types import MappingProxyType

from phonenumbers import PhoneMetadata

from bot.locations.place_names import PlaceNames, name_key, name_variants

#: Regions whose numbers are UK (+44) geographic numbers: Great Britain and Northern
#: Ireland, and the Crown dependencies that share the plan.
_REGIONS = ("GB", "GG", "JE", "IM")

#: Digit groups as people write numbers: "0161 496 0000", "(0161) 496-0000", "+44 (0)161".
#: Not part of a word, an amount (£20), a time (9:30), a reference (INC-2026...) or a
#: decimal; a group may be bracketed and groups are joined by one space, hyphen or dot.
#: Possessive quantifiers keep this linear: a long run of digits never backtracks.
_NUMBER = re.compile(r"(?<![\w£$€#@/.+\-])(\+\s?)?\(?\d++\)?(?:[ \u00a0.\-]?\(?\d++\)?)*+")
#: What may not follow a number: "9am", "30%", "9:30", "20£".
_NOT_AFTER = re.compile(r"[\w%:£$€]")
#: The last digit group of a span, dropped when the span runs into a word ("0161 3days").
_LAST_GROUP = re.compile(r"[ \u00a0.\-]?\(?\d++\)?$")
_DIGITS = re.compile(r"\d+")

_FULL_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2}\d[A-Za-z\d]?) ?(\d[A-Za-z]{2})(?![A-Za-z0-9])"
)
_OUTWARD = re.compile(r"(?<![A-Za-z0-9@#/])([A-Za-z]{1,2}\d[A-Za-z\d]?)(?![A-Za-z0-9])")
_AREA = re.compile(r"[A-Z]+")

#: Postcode areas whose every district is listed in the data, so "E99" is not London.
_LISTED_AREAS = frozenset({"E", "EC", "N", "NW", "SE", "SW", "W", "WC"})

#: Text-speak that looks like an outward code in lower case ("b4", "m8" = mate).
_TEXT_SPEAK = frozenset({"b4", "w8", "m8", "l8"})
#: Products customers mention that are also outward codes (chips, phones, Windows, masks):
#: these count as postcodes only after "in", "postcode"... ("my M2 macbook" is not M2).
_PRODUCTS = frozenset(
    {"co2", "m1", "m2", "m3", "m4", "s20", "s21", "s22", "s23", "s24", "w10", "w11", "ub40"}
)
#: Words after which a bare outward code is a place: "in LS6", "postcode sw1a".
_POSTCODE_CUES = frozenset(
    {"in", "at", "near", "around", "from", "nr", "by", "postcode", "area", "code", "district"}
)
#: Words after which a bare outward code that is not a product name is a place:
#: "is M20 back online", "check LS6 please".
_WEAK_CUES = frozenset({"is", "for", "check", "checking", "covers", "covering"})
_LAST_WORD = re.compile(r"([A-Za-z]+)[^A-Za-z0-9]*$")
#: How far around a postcode to look for its context; bounds the work on long messages.
_NEAR = 40
#: The end of a message after a postcode: punctuation, emoji, "please", "mate"...
_NOTHING_MORE = re.compile(
    r"(?:[^A-Za-z0-9]|\b(?:please|pls|plz|thanks|thx|ta|ty|mate|area|x+|tbh|lol|ffs)\b)*$",
    re.IGNORECASE,
)
#: The start of a message before a postcode: nothing but @handles and punctuation.
_NOTHING_BEFORE = re.compile(r"(?:@\w+|[^A-Za-z0-9])*$")

_CODE_LENGTHS = (6, 5, 4, 3)

#: Outward-code lookalikes examined per message ("a1 a1 a1..." must not cost much).
_MAX_OUTWARDS = 8

#: Ofcom's ranges for TV and radio drama inside real codes ("0161 496 0000",
#: "020 7946 0321"): never anyone's line, but they do name the code's town, and our own
#: documentation and demos use them. 01632, the drama code with no town, is not in the plan.
_DRAMA = re.compile(r"(?:11[3-8]4960|1[2-6]14960|1914980|2079460|2896496|2920180)\d{3}")


@dataclass(frozen=True, slots=True)
class Location:
    """An area code and the place to name to the customer.

    Attributes:
        area_code: Ofcom area code with its leading zero ("0161", "01483", "013873").
        place: Town or area, as specific as the text allows: "028 9032 1234" is Belfast
            within code 028, "I'm in Sunderland" is Sunderland within 0191.
    """

    area_code: str
    place: str


class DataError(ValueError):
    """A reference data file is missing, malformed or inconsistent; the message says where."""


class Locator:
    """Resolves free text to a :class:`Location`; build once, share everywhere.

    Args:
        codes: area code -> place, the Ofcom numbering plan.
        exchanges: number prefix longer than its code -> place it serves ("02890" Belfast).
        postcodes: postcode area or district ("LS", "LS29") -> location.
        names: extra place name -> location, the place being what to call it ("Brum" is
            Birmingham); ``None`` marks a name too ambiguous to resolve ("Richmond").
        place_words: town names that are also ordinary words ("Reading", "Bath").
        common_words: words never to be read as a misspelt town ("leads", "silly").
    """

    __slots__ = (
        "_codes",
        "_exchange_lengths",
        "_exchanges",
        "_fixed_line",
        "_names",
        "_postcodes",
    )

    def __init__(
        self,
        codes: Mapping[str, str],
        exchanges: Mapping[str, str],
        postcodes: Mapping[str, Location],
        names: Mapping[str, Location | None],
        place_words: Collection[str] = (),
        common_words: Collection[str] = (),
    ) -> None:
        self._codes = dict(codes)
        self._exchanges = dict(exchanges)
        self._exchange_lengths = sorted({len(p) for p in exchanges}, reverse=True)
        self._postcodes = dict(postcodes)
        self._fixed_line = re.compile("|".join(f"(?:{p})" for p in _fixed_line_patterns()))
        index, blocked = self._name_index(names)
        self._names = PlaceNames(index, place_words, common_words, blocked)

    @classmethod
    def from_data(cls, data_dir: Path) -> Locator:
        """Build a Locator from the CSV files in ``data_dir`` (see ``data/SOURCES.md``).

        Raises:
            DataError: a file is missing or refers to an area code that is not in the plan.
        """
        codes = {row["code"]: row["place"] for row in _rows(data_dir / "area_codes.csv")}
        exchanges: dict[str, str] = {}
        for row in _rows(data_dir / "exchanges.csv"):
            _check_code(codes, row["area_code"], "exchanges.csv", row["prefix"])
            if not row["prefix"].startswith(row["area_code"]):
                raise DataError(f"exchanges.csv: {row['prefix']} is not in {row['area_code']}")
            exchanges[row["prefix"]] = row["place"]
        postcodes: dict[str, Location] = {}
        for row in _rows(data_dir / "postcodes.csv"):
            _check_code(codes, row["area_code"], "postcodes.csv", row["postcode"])
            postcodes[row["postcode"].upper()] = Location(row["area_code"], row["place"])
        names: dict[str, Location | None] = {}
        for row in _rows(data_dir / "places.csv"):
            if not row["area_code"]:
                names[row["name"]] = None
                continue
            _check_code(codes, row["area_code"], "places.csv", row["name"])
            names[row["name"]] = Location(row["area_code"], row.get("place") or row["name"])
        place_words = _words(data_dir / "place_words.txt")
        common_words = _words(data_dir / "common_words.txt")
        return cls(codes, exchanges, postcodes, names, place_words, common_words)

    @property
    def area_codes(self) -> Mapping[str, str]:
        """Every known area code and its place, read-only (for loading the database)."""
        return MappingProxyType(self._codes)

    def known(self, area_code: str) -> bool:
        """Say whether ``area_code`` is an area code of the plan."""
        return area_code in self._codes

    def parent_codes(self, area_code: str) -> list[str]:
        """``area_code`` and every shorter known code it lies in, longest first.

        Only the six-digit "mixed" codes have parents (013873 Langholm lies in 01387
        Dumfries); an incident filed for the parent also affects the child.
        """
        return [area_code] + [
            area_code[:n] for n in range(len(area_code) - 1, 2, -1) if area_code[:n] in self._codes
        ]

    def place_for(self, area_code: str) -> str | None:
        """Return the place an area code serves, or ``None`` for an unknown code."""
        return self._codes.get(area_code)

    def locate(self, text: str) -> Location | None:
        """Return the location ``text`` names, or ``None`` when it names none for sure."""
        if any(c.isdigit() for c in text):
            for match in _NUMBER.finditer(text):
                raw = match.group()
                if _NOT_AFTER.match(text, match.end()):
                    raw = _LAST_GROUP.sub("", raw, count=1)
                found = self._from_number(raw, bool(match.group(1))) if raw else None
                if found is not None:
                    return found
            for match in _FULL_POSTCODE.finditer(text):
                found = self._from_postcode(match.group(1))
                if found is not None:
                    return found
        named = self._names.find(text)
        if named is not None:
            return named[1]
        if any(c.isdigit() for c in text):
            for match in islice(_OUTWARD.finditer(text), _MAX_OUTWARDS):
                if not _meant_as_postcode(text, match):
                    continue
                found = self._from_postcode(match.group(1))
                if found is not None:
                    return found
        return None

    def _from_number(self, raw: str, international: bool) -> Location | None:
        groups = _DIGITS.findall(raw)
        digits = "".join(groups)
        if international:
            if not digits.startswith("44"):
                return None
            national = digits[2:]
        elif digits.startswith("0044"):
            national = digits[4:]
        elif digits.startswith("44") and len(digits) == 12:
            national = digits[2:]
        elif digits.startswith("0"):
            national = digits[1:]
        else:
            return None
        if national.startswith("0"):  # "+44 (0)161 ..."
            national = national[1:]
        if not national.startswith(("1", "2")):
            return None  # mobile, non-geographic or not a UK number at all
        number = "0" + national
        # Two numbers run together ("0161 496 0000 0113 ...") start with an 11 or 10 digit one.
        for length in (11, 10) if len(number) > 11 else (len(number),):
            whole = number[1:length]
            if self._fixed_line.fullmatch(whole) or _DRAMA.fullmatch(whole):
                return self._longest_prefix(number[:length])
        if len(number) >= 10:
            return None  # a whole number that no fixed line can have, e.g. 01632 960000
        # A bare code ("0161", "(020)", "01387 3..."): the longest run of whole groups that
        # is a code, so "0161 3 days" stays 0161 and "0161496" (no gaps) is nothing.
        prefix = len(digits) - len(national)  # "0", "44", "0044", "440"...
        found: str | None = None
        written = ""
        for group in groups:
            written += group
            if len(written) > prefix + 6:
                break  # no code is longer than six digits
            candidate = "0" + written[prefix:]
            if candidate in self._codes:
                found = candidate
        return None if found is None else Location(found, self._codes[found])

    def _longest_prefix(self, number: str) -> Location | None:
        for length in _CODE_LENGTHS:
            code = number[:length]
            if code in self._codes:
                for size in self._exchange_lengths:
                    if size > length:
                        place = self._exchanges.get(number[:size])
                        if place is not None:
                            return Location(code, place)
                return Location(code, self._codes[code])
        return None

    def _from_postcode(self, outward: str) -> Location | None:
        outward = outward.upper()
        exact = self._postcodes.get(outward)
        if exact is not None:
            return exact
        area = _AREA.match(outward)
        if area is None or area.group() in _LISTED_AREAS or not outward[-1].isdigit():
            return None
        return self._postcodes.get(area.group())

    def _name_index(
        self, names: Mapping[str, Location | None]
    ) -> tuple[dict[str, Location], set[str]]:
        """Index town names by key, the more deliberate sources first.

        Explicit names win over the plan's, which win over names derived from brackets,
        exchanges and postcode districts; a key that two codes claim in one tier is
        dropped as ambiguous ("Alford" is in Lincolnshire and in Aberdeenshire).
        """
        tiers: list[Iterator[tuple[str, Location]]] = [
            ((name_key(name), location or _NOWHERE) for name, location in names.items()),
            ((name_key(place), Location(code, place)) for code, place in self._codes.items()),
            _derived(self._codes, self._exchanges, self._postcodes),
        ]
        index: dict[str, Location] = {}
        blocked: set[str] = set()
        for tier in tiers:
            claims: dict[str, list[Location]] = {}
            for key, location in tier:
                if key and key not in index and key not in blocked:
                    claims.setdefault(key, []).append(location)
            for key, locations in claims.items():
                codes = {location.area_code for location in locations}
                if len(codes) == 1 and _NOWHERE not in locations:
                    index[key] = locations[0]  # the first spelling the data gives
                else:
                    blocked.add(key)
        return index, blocked


_NOWHERE = Location("", "")


def _meant_as_postcode(text: str, match: re.Match[str]) -> bool:
    """Say whether a bare outward code ("LS6") is a postcode here, not a product or slang.

    It is when a location word comes before it ("in LS6", "postcode sw1a") or it is the
    whole message ("M1"); and, unless it is also a product name ("W10", "S21"), when it
    ends the message ("net down cv1") or follows "is", "for" ("is M20 back online").
    """
    outward = match.group(1)
    lowered = outward.lower()
    if lowered in _TEXT_SPEAK and not outward.isupper():
        return False
    start, end = match.span()
    before = _LAST_WORD.search(text, max(0, start - _NEAR), start)
    cue = before.group(1).lower() if before is not None else ""
    if cue in _POSTCODE_CUES:
        return True
    last = len(text) - end <= _NEAR and _NOTHING_MORE.match(text, end) is not None
    if last and start <= _NEAR and _NOTHING_BEFORE.match(text, 0, start) is not None:
        return True  # the whole message: "M1", "@bt_uk LS6"
    return lowered not in _PRODUCTS and (last or cue in _WEAK_CUES)


def _derived(
    codes: Mapping[str, str], exchanges: Mapping[str, str], postcodes: Mapping[str, Location]
) -> Iterator[tuple[str, Location]]:
    for code, place in codes.items():
        for key in name_variants(place)[1:]:
            yield key, Location(code, place)
    for prefix, place in exchanges.items():
        code = next(prefix[:n] for n in _CODE_LENGTHS if prefix[:n] in codes)
        for key in name_variants(place):
            yield key, Location(code, place)
    for location in postcodes.values():
        for key in name_variants(location.place):
            yield key, location


def _fixed_line_patterns() -> Iterator[str]:
    for region in _REGIONS:
        metadata = PhoneMetadata.metadata_for_region(region)
        fixed_line = metadata.fixed_line if metadata is not None else None
        pattern = fixed_line.national_number_pattern if fixed_line is not None else None
        if not pattern:
            raise DataError(f"phonenumbers has no fixed-line metadata for {region}")
        yield pattern


def _words(path: Path) -> frozenset[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from error
    return frozenset(name_key(line) for line in lines if line.strip() and not line.startswith("#"))


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from error


def _check_code(codes: Mapping[str, str], code: str, file: str, row: str) -> None:
    if code not in codes:
        raise DataError(f"{file}: {row} refers to unknown area code {code!r}")

"""Town names in free text: exact phrases first, then a bounded typo search.

Customers write "manchester", "MANCHESTER", "i'm in leeds" or "machester"; many town names
are also ordinary English ("Reading", "Bath", "Wells", "Street"). The index therefore
answers in three tiers: an exact phrase match, an exact match of an ordinary-word name only
when the text makes it clearly a place (capitalised after "in"/"near"/..., or the whole
message), and a typo match limited to one edit (two for long names) that never fires on a
common English word. A wrong town is worse than none, so every doubtful case gives ``None``.

Typos are found with a deletion index (the SymSpell idea): every name is stored under the
strings made by deleting up to ``max_edits`` of its letters, so a query only looks up its
own deletions instead of comparing against every town.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Hashable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)

_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_APOSTROPHES = re.compile(r"['’]")
_PARENTHESES = re.compile(r"\(([^)]*)\)")
_SEPARATORS = re.compile(r"[^a-z]+")


#: Words a location follows ("in Reading", "near Bath", "from Wells").
_CUES = frozenset(("in", "at", "near", "from", "around", "outside", "nr", "round", "by"))


def name_key(text: str) -> str:
    """Return the comparison form of a place name or phrase.

    Lower case, no apostrophes, every other non-letter a single space, "saint" as "st" and
    "upon" as "on", so "Stoke-on-Trent", "stoke on trent" and "St. Albans"/"saint albans"
    meet on one key.
    """
    words = _SEPARATORS.split(_APOSTROPHES.sub("", _ascii(text).lower()))
    return " ".join(_CANONICAL.get(word, word) for word in words if word)


_CANONICAL = {"saint": "st", "upon": "on"}


def _ascii(text: str) -> str:
    """Return ``text`` without accents ("Ynys Môn" -> "Ynys Mon"), cheaply when plain."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_variants(place: str) -> list[str]:
    """Return the keys a data-file place name should be found under.

    "Ashford (Kent)" is found as "ashford kent" and "ashford"; "Newquay (Padstow)" also as
    "padstow", because the bracket names the exchange's other town.
    """
    variants = [name_key(place)]
    inner = _PARENTHESES.findall(place)
    base = _PARENTHESES.sub(" ", place)
    variants.append(name_key(base))
    for part in inner:
        for piece in re.split(r"[/,]", part):
            if name_key(piece) not in _QUALIFIERS:
                variants.append(name_key(piece))
    return [v for v in dict.fromkeys(variants) if v]


#: Bracketed words that say which of two same-named towns is meant, not a town themselves.
_QUALIFIERS = frozenset(
    {
        "aberdeen",
        "aberdeenshire",
        "cambridgeshire",
        "county down",
        "dorset",
        "fife",
        "gwent",
        "gwynedd",
        "isle of mull",
        "isle of skye",
        "isle of wight",
        "kent",
        "lincolnshire",
        "lincs",
        "middlesex",
        "north yorkshire",
        "shropshire",
        "somerset",
        "surrey",
    }
)


def _within_one(a: str, b: str) -> bool:
    """Say whether ``a`` and ``b`` differ by at most one edit (transposition included).

    Linear time, unlike :func:`edit_distance`; most typos are one edit, so this check
    settles most candidates without the dynamic programme.
    """
    if len(a) < len(b):
        a, b = b, a
    if len(a) - len(b) > 1:
        return False
    i = 0
    while i < len(b) and a[i] == b[i]:
        i += 1
    if i == len(b):
        return True
    if len(a) != len(b):
        return a[i + 1 :] == b[i:]
    if a[i + 1 :] == b[i + 1 :]:
        return True
    return (
        a[i + 1 : i + 2] == b[i : i + 1]
        and a[i : i + 1] == b[i + 1 : i + 2]
        and (a[i + 2 :] == b[i + 2 :])
    )


def edit_distance(a: str, b: str, limit: int) -> int:
    """Return the optimal-string-alignment distance of ``a`` and ``b``, or ``limit + 1``.

    Transpositions count as one edit because "edinbrugh" is the commonest kind of typo. The
    early exit keeps the cost proportional to the short strings compared here.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        row_min = i
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            row_min = min(row_min, value)
        if row_min > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _word_key(word: str) -> str:
    """Return :func:`name_key` of one word of :data:`_WORD`, without the regular expressions."""
    key = word.lower()
    if "'" in key or "’" in key:
        key = key.replace("'", "").replace("’", "")
    return _CANONICAL.get(key, key)


def _max_edits(key: str) -> int:
    letters = len(key.replace(" ", ""))
    if letters < 6:
        return 0  # "needs" is one edit from Leeds, "comes" from Cowes: too close to call
    return 1 if letters < 9 else 2


def _deletions(key: str, edits: int) -> set[str]:
    found = {key}
    layer = {key}
    for _ in range(edits):
        layer = {word[:i] + word[i + 1 :] for word in layer for i in range(len(word))}
        found |= layer
    return found


class PlaceNames(Generic[T]):
    """Finds the best-supported town name in a message.

    Build it once from ``{name key: value}``; lookups are dict probes over the message's
    one- to four-word phrases, and the typo search runs only when nothing matched exactly.
    """

    __slots__ = (
        "_common_deletes",
        "_common_words",
        "_deletes",
        "_exact",
        "_first_words",
        "_longest",
        "_multi_first",
        "_place_words",
    )

    def __init__(
        self,
        names: Mapping[str, T],
        place_words: Collection[str] = (),
        common_words: Collection[str] = (),
        blocked: Collection[str] = (),
    ) -> None:
        """Index ``names`` for exact and typo lookup.

        Args:
            names: place key (in :func:`name_key` form) -> value to return.
            place_words: keys that are also ordinary words ("reading"); found only when the
                text clearly means a place.
            common_words: words the typo search must never turn into a town ("leads").
            blocked: names too ambiguous to resolve ("richmond"), so never "corrected".
        """
        self._exact = dict(names)
        self._place_words = frozenset(place_words)
        self._common_words = frozenset(common_words) | frozenset(blocked)
        self._longest = max((key.count(" ") + 1 for key in names), default=1)
        self._first_words = frozenset(key.split()[0] for key in names if key.count(" ") == 1)
        self._multi_first = frozenset(key.split()[0] for key in names if " " in key)
        self._common_deletes: dict[str, list[str]] = {}
        for word in common_words:
            if word in self._exact:
                continue  # "london" is listed so it is never "corrected"; "londn" is London
            for variant in _deletions(word, 1):
                self._common_deletes.setdefault(variant, []).append(word)
        self._deletes: dict[str, list[str]] = {}
        for key in names:
            if key in self._place_words or key.count(" ") > 1:
                continue
            for variant in _deletions(key, _max_edits(key)):
                found = self._deletes.get(variant)
                if found is None:
                    self._deletes[variant] = [key]
                else:
                    found.append(key)

    def find(self, text: str) -> tuple[str, T] | None:
        """Return ``(matched key, value)`` for the place named in ``text``, or ``None``."""
        words = _WORD.findall(_ascii(text))
        if not words:
            return None
        keys = [_word_key(word) for word in words]
        exact = self._find_exact(words, keys)
        if exact is not None:
            return exact
        return self._find_typo(keys)

    def _find_exact(self, words: list[str], keys: list[str]) -> tuple[str, T] | None:
        best: tuple[int, str] | None = None
        for start, key in enumerate(keys):
            longest = min(self._longest, len(keys) - start) if key in self._multi_first else 1
            for size in range(longest, 0, -1):
                phrase = key if size == 1 else " ".join(keys[start : start + size])
                if phrase not in self._exact:
                    continue
                if phrase in self._place_words and not _clearly_a_place(words, keys, start):
                    continue
                if best is None or size > best[0]:
                    best = (size, phrase)
                break
        if best is None:
            return None
        return best[1], self._exact[best[1]]

    def _find_typo(self, keys: list[str]) -> tuple[str, T] | None:
        phrases: list[str] = []
        for start, key in enumerate(keys):
            following = keys[start + 1] if start + 1 < len(keys) else ""
            if key in self._first_words and len(following) > 2:
                phrases.append(f"{key} {following}")  # "milton keyns"
            if len(key) < 5 or key in self._common_words or key in _CUES or key in self._exact:
                continue
            phrases.append(key)
        phrases = list(dict.fromkeys(phrases))[:_MAX_TYPO_PHRASES]
        matches = self._closest_matches(phrases)
        if matches:
            # Checked only now, since it is rare: "wrking" is "working" before it is
            # Woking, and "internets" is not Inverness.
            plain = [phrase for phrase in phrases if not self._misspelt_common(phrase)]
            if len(plain) < len(phrases):
                matches = self._closest_matches(plain)
        if not matches:
            return None
        best = min(matches)
        values = {self._exact[c] for d, w, c in matches if (d, w) == best[:2]}
        if len(values) > 1:
            return None  # two different towns are equally close: do not guess
        return best[2], self._exact[best[2]]

    def _closest_matches(self, phrases: list[str]) -> list[tuple[int, int, str]]:
        """Names one edit away; two edits only if none is (most typos are one edit)."""
        return self._typo_matches(phrases, 1) or self._typo_matches(phrases, 2)

    def _misspelt_common(self, phrase: str) -> bool:
        """Whether ``phrase`` is one edit from an ordinary word, and so more likely that."""
        return any(
            _within_one(phrase, word)
            for variant in _deletions(phrase, 1)
            for word in self._common_deletes.get(variant, ())
        )

    def _typo_matches(self, phrases: list[str], edits: int) -> list[tuple[int, int, str]]:
        """Return ``(distance, -extra words, name)`` for names exactly ``edits`` away or less.

        A name is only "corrected" to within its own tolerance, and only when the first
        letter is right: short names (under six letters) never, names under nine letters
        by one edit, longer ones by two.
        """
        matches: list[tuple[int, int, str]] = []
        for phrase in phrases:
            if not 3 + 2 * edits <= len(phrase) <= _LONGEST_TYPO:
                continue  # a name it could be is at least 6 (one edit) or 9 letters (two)
            words = -phrase.count(" ")  # a two-word match beats a one-word one at equal cost
            candidates: set[str] = set()
            for variant in _deletions(phrase, edits):
                candidates.update(self._deletes.get(variant, ()))
            for candidate in candidates:
                allowed = _max_edits(candidate)
                if candidate[0] != phrase[0] or allowed < edits:
                    continue  # people rarely miss the first letter; "tower" is not Gower
                if edits == 1:
                    if _within_one(phrase, candidate):
                        matches.append((1, words, candidate))
                elif edit_distance(phrase, candidate, 2) <= 2:
                    matches.append((2, words, candidate))
        return matches


#: A typo'd town is in a short message; these bound the work a 4,000-character one can cause.
_MAX_TYPO_PHRASES = 24
_LONGEST_TYPO = 32


def _clearly_a_place(words: list[str], keys: list[str], start: int) -> bool:
    """Say whether an ordinary-word name (always one word) is meant as a town here.

    Yes when it is the whole message ("Reading", "bath?"), or when it is capitalised and
    follows a location word ("in Reading", "near Wells"); never for "reading the news".
    """
    if all(key in _CUES or key in _FILLER for i, key in enumerate(keys) if i != start):
        return True
    word = words[start]
    return word[0].isupper() and not word.isupper() and start > 0 and keys[start - 1] in _CUES


#: Words that may surround a bare place name without making it part of a sentence.
_FILLER = frozenset(("i", "we", "live", "living", "based", "the", "area", "here"))

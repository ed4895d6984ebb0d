"""Fitting a reply into X's 280-character posts: X's own length count, numbered threads.

X does not count characters the way ``len`` does. Its rules (the ``twitter-text`` v3
configuration) weigh every URL as 23 characters whatever its length, count code points in
the Latin, general punctuation and similar ranges as 1 and every other code point (CJK,
emoji) as 2. :func:`weighted_length` follows those rules, except that it counts each code
point of an emoji sequence separately, which over-counts and so can only make a post
shorter than the limit, never rejected for being too long.

A reply that does not fit becomes a numbered thread ("1/3 ...", "2/3 ..."), split at
spaces so words stay whole; the adapter posts each part as a reply to the previous one.
"""

from __future__ import annotations

import re

TWEET_LIMIT = 280
URL_WEIGHT = 23

# Code point ranges X counts as weight 1 (twitter-text v3 config); everything else weighs 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def _char_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _LIGHT_RANGES) else 2


def weighted_length(text: str) -> int:
    """Return the length X assigns to ``text``: URLs count 23, wide characters count 2."""
    total = 0
    position = 0
    for match in _URL.finditer(text):
        total += sum(_char_weight(char) for char in text[position : match.start()])
        total += URL_WEIGHT
        position = match.end()
    return total + sum(_char_weight(char) for char in text[position:])


def _chunks(text: str, limit: int) -> list[str]:
    """Split ``text`` at spaces into pieces of at most ``limit`` weighted characters.

    A URL never contains a space, so a piece weighs the sum of its words plus one per
    space between them; each word is weighed once.
    """
    pieces: list[str] = []
    current: list[str] = []
    weight = 0
    for word in text.split():
        word_weight = weighted_length(word)
        if current and weight + 1 + word_weight <= limit:
            current.append(word)
            weight += 1 + word_weight
            continue
        if current:
            pieces.append(" ".join(current))
        # A single word longer than a whole post (rare: a very long token) is cut hard.
        while word_weight > limit:
            cut = len(word)
            while weighted_length(word[:cut]) > limit:
                cut -= 1
            pieces.append(word[:cut])
            word = word[cut:]
            word_weight = weighted_length(word)
        current, weight = [word], word_weight
    if current:
        pieces.append(" ".join(current))
    return pieces


def thread(text: str, limit: int = TWEET_LIMIT) -> list[str]:
    """Return the posts that carry ``text``: itself if it fits, else a numbered thread.

    The numbering prefix ("12/13 ") is part of each post's budget; its width depends on
    how many parts there are, so the split is repeated until the count is stable.
    """
    text = text.strip()
    if weighted_length(text) <= limit:
        return [text]
    count = 2
    while True:
        prefix_width = len(f"{count}/{count} ")
        pieces = _chunks(text, limit - prefix_width)
        if len(str(len(pieces))) <= len(str(count)):
            total = len(pieces)
            return [f"{index}/{total} {piece}" for index, piece in enumerate(pieces, start=1)]
        count = len(pieces)

from __future__ import annotations

from bot.channels.x.thread import TWEET_LIMIT, thread, weighted_length


def test_plain_text_counts_one_per_character() -> None:
    assert weighted_length("Broadband is down in 0161.") == 26


def test_a_url_counts_23_whatever_its_length() -> None:
    url = "https://status.example.com/incidents/INC-20261125-0001?utm_source=x"
    assert weighted_length(f"See {url} now") == 4 + 23 + 4


def test_wide_characters_and_emoji_count_two() -> None:
    assert weighted_length("断网") == 4
    assert weighted_length("ok 👍") == 5


def test_a_reply_that_fits_is_one_unnumbered_post() -> None:
    text = "x" * TWEET_LIMIT
    assert thread(text) == [text]


def test_a_long_reply_becomes_numbered_posts_within_the_limit() -> None:
    words = [f"word{i:03d}" for i in range(100)]
    posts = thread(" ".join(words))
    assert len(posts) == 3
    assert [p.split(" ", 1)[0] for p in posts] == ["1/3", "2/3", "3/3"]
    assert all(weighted_length(p) <= TWEET_LIMIT for p in posts)
    assert " ".join(p.split(" ", 1)[1] for p in posts).split() == words


def test_numbering_width_is_part_of_the_budget() -> None:
    posts = thread(" ".join(["abcdefgh"] * 400), limit=50)
    assert len(posts) >= 10
    assert posts[-1].startswith(f"{len(posts)}/{len(posts)} ")
    assert all(weighted_length(p) <= 50 for p in posts)


def test_a_word_longer_than_a_post_is_cut() -> None:
    posts = thread("a" * 600)
    assert all(weighted_length(p) <= TWEET_LIMIT for p in posts)
    assert "".join(p.split(" ", 1)[1] for p in posts) == "a" * 600


def test_urls_are_kept_whole_and_weighed_as_23() -> None:
    url = "https://example.com/" + "p" * 300
    posts = thread(f"{'word ' * 60}{url}")
    assert any(url in p for p in posts)

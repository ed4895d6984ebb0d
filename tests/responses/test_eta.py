from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.responses.eta import NaiveDatetimeError, eta_phrase, past_phrase, round_up

LONDON = ZoneInfo("Europe/London")


def at(text: str) -> datetime:
    """A London wall-clock time as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.mark.parametrize(
    ("now", "eta", "expected"),
    [
        ("2026-11-25 12:00", "2026-11-25 17:43", "by about 17:45 today"),
        ("2026-11-25 12:00", "2026-11-25 17:45", "by 17:45 today"),
        ("2026-11-25 12:00", "2026-11-25 17:45:01", "by about 17:50 today"),
        ("2026-11-25 20:00", "2026-11-26 09:00", "by 09:00 tomorrow"),
        ("2026-11-25 20:00", "2026-11-26 08:58", "by about 09:00 tomorrow"),
        ("2026-11-25 12:00", "2026-11-27 14:00", "by about 14:00 on Friday 27 November"),
        ("2026-12-30 12:00", "2027-01-02 10:00", "by about 10:00 on Saturday 2 January 2027"),
        # around midnight
        ("2026-11-25 23:50", "2026-11-25 23:57", "by about midnight tonight"),
        ("2026-11-25 23:50", "2026-11-26 00:00", "by midnight tonight"),
        ("2026-11-25 23:50", "2026-11-26 00:20", "by 00:20 tomorrow"),
        ("2026-11-26 00:05", "2026-11-26 06:00", "by 06:00 today"),
        # past due
        ("2026-11-25 18:00", "2026-11-25 17:45", "shortly"),
        ("2026-11-25 17:45", "2026-11-25 17:45", "shortly"),
    ],
)
def test_eta_phrase(now: str, eta: str, expected: str) -> None:
    assert eta_phrase(at(eta), at(now), LONDON) == expected


def test_eta_given_in_utc_is_said_in_london_summer_time() -> None:
    now = datetime(2016, 7, 20, 9, 0, tzinfo=UTC)
    eta = datetime(2016, 7, 20, 16, 45, tzinfo=UTC)
    assert eta_phrase(eta, now, LONDON) == "by 17:45 today"


def test_clocks_going_back_keep_the_wall_clock_right() -> None:
    # 25 October 2026: 02:00 BST becomes 01:00 GMT.
    now = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 00:30 BST on the 25th
    eta = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT (after the change)
    assert eta_phrase(eta, now, LONDON) == "by 01:30 today"
    before = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST (before the change)
    assert eta_phrase(before, now, LONDON) == "by 01:30 today"


def test_clocks_going_forward_never_name_a_missing_time() -> None:
    # 29 March 2026: 01:00 GMT becomes 02:00 BST; 01:xx local does not exist.
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 00:30 GMT
    eta = datetime(2026, 3, 29, 0, 58, tzinfo=UTC)  # 00:58 GMT -> rounds to 01:00 UTC
    assert eta_phrase(eta, now, LONDON) == "by about 02:00 today"


def test_more_than_a_day_away_is_always_approximate() -> None:
    now = at("2026-11-25 08:00")
    assert eta_phrase(at("2026-11-26 09:00"), now, LONDON) == "by about 09:00 tomorrow"


def test_round_up_leaves_exact_steps_alone() -> None:
    moment = datetime(2026, 11, 25, 17, 45, tzinfo=UTC)
    assert round_up(moment) == moment
    assert round_up(moment + timedelta(microseconds=1)) == moment + timedelta(minutes=5)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        eta_phrase(datetime(2026, 11, 25, 17, 0), at("2026-11-25 12:00"), LONDON)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-25 14:05", "at 14:05 today"),
        ("2026-11-24 23:10", "at 23:10 yesterday"),
        ("2026-11-22 09:30", "at 09:30 on Sunday 22 November"),
    ],
)
def test_past_phrase(moment: str, expected: str) -> None:
    assert past_phrase(at(moment), at("2026-11-25 16:00"), LONDON) == expected

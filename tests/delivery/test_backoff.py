"""The one retry backoff: doubling from ``first``, capped; every policy uses it."""

from __future__ import annotations

from bot.delivery.backoff import CHILD_PROCESS, OUTBOX, TELEGRAM, X_API, Backoff


def test_a_policy_doubles_from_its_first_wait_up_to_its_cap() -> None:
    policy = Backoff(first=0.5, cap=3.0)
    assert [policy.delay(n) for n in range(0, 6)] == [0.5, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_every_named_use_waits_one_second_first_and_a_minute_at_most() -> None:
    for policy in (OUTBOX, X_API, TELEGRAM):
        assert (policy.delay(1), policy.delay(30)) == (1.0, 60.0)


def test_a_dying_child_process_waits_one_second_first_and_half_a_minute_at_most() -> None:
    assert [CHILD_PROCESS.delay(n) for n in (1, 2, 3, 5, 6, 30)] == [1, 2, 4, 16, 30, 30]

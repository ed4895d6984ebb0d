from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import store as conversations
from bot.delivery.backoff import OUTBOX
from bot.delivery.outbox import (
    MAX_ATTEMPTS,
    Outbox,
    PermanentFailure,
    RetryLater,
    deliver_forever,
    deliver_once,
)
from bot.messages import Channel, Inbound, Outbound, Variant
from bot.models import Conversation, Message, utcnow


async def conversation(
    engine: AsyncEngine, channel: Channel = Channel.TELEGRAM, user: str = "42"
) -> Conversation:
    received = await conversations.receive(
        engine, Inbound(channel, user, "hello", external_id=f"in-{channel}-{user}")
    )
    assert received is not None
    return received.conversation


async def queue(
    engine: AsyncEngine, texts: list[str], channel: Channel = Channel.TELEGRAM, user: str = "42"
) -> list[Outbound]:
    found = await conversations.by_channel_user(engine, channel, user)
    conv = found or await conversation(engine, channel, user)
    return await conversations.queue_replies(engine, conv, texts, Variant.TELEGRAM, "99")


async def row(engine: AsyncEngine, message_id: int) -> Message:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        message = await session.get(Message, message_id)
    assert message is not None
    return message


async def set_row(engine: AsyncEngine, message_id: int, **values: object) -> None:
    async with AsyncSession(engine) as session:
        await session.exec(update(Message).where(col(Message.id) == message_id).values(**values))
        await session.commit()


async def test_claim_moves_due_replies_to_sending_oldest_first(engine: AsyncEngine) -> None:
    queued = await queue(engine, ["one", "two", "three"])
    outbox = Outbox(engine)

    claimed = await outbox.claim(Channel.TELEGRAM)

    assert [o.text for o in claimed] == ["one", "two", "three"]
    assert claimed[0].external_user_id == "42"
    assert claimed[0].variant is Variant.TELEGRAM
    assert claimed[0].reply_to == "99"
    for outbound in queued:
        message = await row(engine, outbound.message_id)
        assert (message.state, message.attempts) == ("sending", 1)
    assert await outbox.claim(Channel.TELEGRAM) == []


async def test_claim_respects_limit_and_channel(engine: AsyncEngine) -> None:
    await queue(engine, ["a", "b", "c"])
    await queue(engine, ["x"], Channel.X, "7")
    outbox = Outbox(engine)

    assert [o.text for o in await outbox.claim(Channel.TELEGRAM, limit=2)] == ["a", "b"]
    assert [o.text for o in await outbox.claim(Channel.X)] == ["x"]
    assert await outbox.claim(Channel.WEB) == []
    assert [o.text for o in await outbox.claim(Channel.TELEGRAM)] == ["c"]


async def test_concurrent_claims_get_each_row_once(engine: AsyncEngine) -> None:
    queued = await queue(engine, [f"reply {i}" for i in range(10)])
    first, second = Outbox(engine), Outbox(engine)

    batches = await asyncio.gather(first.claim(Channel.TELEGRAM), second.claim(Channel.TELEGRAM))

    ids = [o.message_id for batch in batches for o in batch]
    assert sorted(ids) == sorted(o.message_id for o in queued)
    for outbound in queued:
        assert (await row(engine, outbound.message_id)).attempts == 1


async def test_claim_skips_replies_not_due_yet(engine: AsyncEngine) -> None:
    (later,) = await queue(engine, ["later"])
    await set_row(engine, later.message_id, next_attempt_at=utcnow() + timedelta(minutes=5))
    outbox = Outbox(engine)

    assert await outbox.claim(Channel.TELEGRAM) == []

    await set_row(engine, later.message_id, next_attempt_at=utcnow() - timedelta(seconds=1))
    assert [o.text for o in await outbox.claim(Channel.TELEGRAM)] == ["later"]


async def test_mark_sent_records_the_platform_id(engine: AsyncEngine) -> None:
    (reply,) = await queue(engine, ["hi"])
    outbox = Outbox(engine)
    await outbox.claim(Channel.TELEGRAM)

    await outbox.mark_sent(reply.message_id, "tg-555")

    message = await row(engine, reply.message_id)
    assert (message.state, message.external_id, message.last_error) == ("sent", "tg-555", "")
    assert message.sent_at is not None


async def test_mark_retry_puts_the_reply_back_after_the_delay(engine: AsyncEngine) -> None:
    (reply,) = await queue(engine, ["hi"])
    outbox = Outbox(engine)
    await outbox.claim(Channel.TELEGRAM)
    before = utcnow()

    await outbox.mark_retry(reply.message_id, "429 Too Many Requests", 30)

    message = await row(engine, reply.message_id)
    assert message.state == "pending"
    assert message.last_error == "429 Too Many Requests"
    assert message.next_attempt_at is not None
    assert (
        before + timedelta(seconds=29)
        <= message.next_attempt_at
        <= utcnow() + timedelta(seconds=31)
    )
    assert await outbox.claim(Channel.TELEGRAM) == []


async def test_mark_retry_fails_the_reply_after_max_attempts(engine: AsyncEngine) -> None:
    (reply,) = await queue(engine, ["hi"])
    outbox = Outbox(engine)
    for attempt in range(1, MAX_ATTEMPTS):
        assert len(await outbox.claim(Channel.TELEGRAM)) == 1
        await outbox.mark_retry(reply.message_id, f"down {attempt}", 0)
        assert (await row(engine, reply.message_id)).state == "pending"

    assert len(await outbox.claim(Channel.TELEGRAM)) == 1
    await outbox.mark_retry(reply.message_id, "still down", 0)

    message = await row(engine, reply.message_id)
    assert (message.state, message.attempts, message.last_error) == (
        "failed",
        MAX_ATTEMPTS,
        "still down",
    )
    assert await outbox.claim(Channel.TELEGRAM) == []


async def test_mark_failed_stops_trying_and_truncates_the_error(engine: AsyncEngine) -> None:
    (reply,) = await queue(engine, ["hi"])
    outbox = Outbox(engine)
    await outbox.claim(Channel.TELEGRAM)

    await outbox.mark_failed(reply.message_id, "Forbidden: bot was blocked " + "x" * 1000)

    message = await row(engine, reply.message_id)
    assert message.state == "failed"
    assert message.last_error.startswith("Forbidden: bot was blocked")
    assert len(message.last_error) == 300
    assert await outbox.claim(Channel.TELEGRAM) == []


async def test_in_doubt_lists_rows_left_sending_and_resolve_settles_them(
    engine: AsyncEngine,
) -> None:
    sent, unsent, _untouched = await queue(engine, ["sent", "unsent", "untouched"])
    outbox = Outbox(engine)
    await outbox.claim(Channel.TELEGRAM, limit=2)  # ... and the worker crashes here

    doubtful = await outbox.in_doubt(Channel.TELEGRAM)
    assert [o.text for o in doubtful] == ["sent", "unsent"]
    assert await outbox.in_doubt(Channel.X) == []

    await outbox.resolve_in_doubt(sent.message_id, sent=True, external_id="tg-1")
    await outbox.resolve_in_doubt(unsent.message_id, sent=False, external_id=None)

    assert await outbox.in_doubt(Channel.TELEGRAM) == []
    message = await row(engine, sent.message_id)
    assert (message.state, message.external_id) == ("sent", "tg-1")
    assert (await row(engine, unsent.message_id)).state == "pending"
    again = await outbox.claim(Channel.TELEGRAM)
    assert [o.text for o in again] == ["unsent", "untouched"]


async def test_take_hands_over_pending_web_replies_once(engine: AsyncEngine) -> None:
    conv = await conversation(engine, Channel.WEB, "browser-1")
    other = await conversation(engine, Channel.WEB, "browser-2")
    delivered = await conversations.queue_replies(
        engine, conv, ["answered in HTTP"], Variant.WEB, delivered=True
    )
    await conversations.queue_replies(engine, conv, ["agent: hi", "agent: fixed"], Variant.WEB)
    await conversations.queue_replies(engine, other, ["not yours"], Variant.WEB)
    outbox = Outbox(engine)
    assert conv.id is not None

    taken = await outbox.take(conv)

    assert [o.text for o in taken] == ["agent: hi", "agent: fixed"]
    assert {o.external_user_id for o in taken} == {"browser-1"}
    for outbound in taken:
        message = await row(engine, outbound.message_id)
        assert message.state == "sent"
        assert message.sent_at is not None
    assert (await row(engine, delivered[0].message_id)).state == "sent"
    assert await outbox.take(conv) == []


class Sender:
    """A send function that answers from a script, recording what it was given."""

    def __init__(self, *results: str | Exception | None) -> None:
        self.results = list(results)
        self.sent: list[Outbound] = []

    async def __call__(self, outbound: Outbound) -> str | None:
        self.sent.append(outbound)
        result = self.results.pop(0) if self.results else "ok"
        if isinstance(result, Exception):
            raise result
        return result


async def test_deliver_once_marks_each_outcome(engine: AsyncEngine) -> None:
    ok, later, never, broken = await queue(engine, ["ok", "later", "never", "broken"])
    send = Sender("tg-1", RetryLater(42, "flood wait"), PermanentFailure("blocked"), OSError("x"))
    outbox = Outbox(engine)
    started = utcnow()

    assert await deliver_once(outbox, Channel.TELEGRAM, send) == 4

    assert [o.text for o in send.sent] == ["ok", "later", "never", "broken"]
    first = await row(engine, ok.message_id)
    assert (first.state, first.external_id) == ("sent", "tg-1")
    retried = await row(engine, later.message_id)
    assert (retried.state, retried.last_error) == ("pending", "flood wait")
    assert retried.next_attempt_at is not None
    assert retried.next_attempt_at >= started + timedelta(seconds=41)
    failed = await row(engine, never.message_id)
    assert (failed.state, failed.last_error) == ("failed", "blocked")
    other = await row(engine, broken.message_id)
    assert (other.state, other.last_error) == ("pending", "OSError: x")
    assert other.next_attempt_at is not None
    assert other.next_attempt_at <= utcnow() + timedelta(seconds=OUTBOX.delay(1) + 1)
    assert await deliver_once(outbox, Channel.TELEGRAM, send) == 0


async def test_deliver_once_accepts_a_send_without_an_id(engine: AsyncEngine) -> None:
    (reply,) = await queue(engine, ["hi"])

    assert await deliver_once(Outbox(engine), Channel.TELEGRAM, Sender(None)) == 1

    message = await row(engine, reply.message_id)
    assert (message.state, message.external_id) == ("sent", None)


async def test_deliver_once_truncates_long_errors(engine: AsyncEngine) -> None:
    first, second = await queue(engine, ["a", "b"])
    send = Sender(RuntimeError("e" * 2000), RetryLater(1, "r" * 2000))

    await deliver_once(Outbox(engine), Channel.TELEGRAM, send)

    for outbound in (first, second):
        message = await row(engine, outbound.message_id)
        assert message.state == "pending"
        assert len(message.last_error) == 300


def test_backoff_doubles_up_to_a_minute() -> None:
    assert [OUTBOX.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert OUTBOX.delay(0) == 1


async def test_repeated_failures_of_one_reply_back_off_exponentially(
    engine: AsyncEngine,
) -> None:
    (reply,) = await queue(engine, ["flaky"])
    outbox = Outbox(engine)
    delays: list[float] = []
    for _attempt in range(4):
        before = utcnow()
        await deliver_once(outbox, Channel.TELEGRAM, Sender(ConnectionError("down")))
        message = await row(engine, reply.message_id)
        assert message.next_attempt_at is not None
        delays.append(round((message.next_attempt_at - before).total_seconds()))
        await set_row(engine, reply.message_id, next_attempt_at=utcnow())

    assert delays == [1, 2, 4, 8]


async def test_deliver_forever_sends_when_woken(engine: AsyncEngine) -> None:
    outbox = Outbox(engine)
    wake = asyncio.Event()
    delivered = asyncio.Event()

    async def send(outbound: Outbound) -> str:
        delivered.set()
        return f"id-{outbound.message_id}"

    task = asyncio.create_task(
        deliver_forever(outbox, Channel.TELEGRAM, send, wake, poll_seconds=3600)
    )
    try:
        await asyncio.sleep(0.1)  # the loop has found nothing and is waiting for ``wake``
        (reply,) = await queue(engine, ["wake up"])
        wake.set()
        await asyncio.wait_for(delivered.wait(), timeout=5)
        for _ in range(100):
            if (await row(engine, reply.message_id)).state == "sent":
                break
            await asyncio.sleep(0.02)
        assert (await row(engine, reply.message_id)).external_id == f"id-{reply.message_id}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert task.cancelled()


@pytest.mark.parametrize("channel", [Channel.TELEGRAM, Channel.X])
async def test_outbound_keeps_the_variant_and_thread(
    engine: AsyncEngine, channel: Channel
) -> None:
    conv = await conversation(engine, channel, "55")
    await conversations.queue_replies(engine, conv, ["hi"], Variant.X_PUBLIC, reply_to="1234")

    (claimed,) = await Outbox(engine).claim(channel)

    assert (claimed.variant, claimed.reply_to, claimed.channel) == (
        Variant.X_PUBLIC,
        "1234",
        channel,
    )


async def test_deliver_forever_misses_no_wake_during_an_empty_claim(engine: AsyncEngine) -> None:
    wake = asyncio.Event()
    delivered = asyncio.Event()

    class RacingOutbox(Outbox):
        """Queues a reply (and wakes) just after the loop's first claim found nothing."""

        raced = False

        async def claim(self, channel: Channel, limit: int = 20) -> list[Outbound]:
            batch = await super().claim(channel, limit)
            if not self.raced:
                self.raced = True
                await queue(engine, ["queued during the claim"])
                wake.set()
            return batch

    async def send(outbound: Outbound) -> str:
        delivered.set()
        return "id"

    task = asyncio.create_task(
        deliver_forever(RacingOutbox(engine), Channel.TELEGRAM, send, wake, poll_seconds=3600)
    )
    try:
        await asyncio.wait_for(delivered.wait(), timeout=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

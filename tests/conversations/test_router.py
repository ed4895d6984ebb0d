from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import store as conversations
from bot.conversations.locks import LocalLocks
from bot.conversations.router import ConversationRouter
from bot.handoff.escalation import escalate
from bot.inbox.store import Inbox
from bot.messages import Channel, Handled, Inbound, Variant
from bot.models import ConversationState
from bot.rasa.brain import BrainUnavailable
from bot.responses.store import ResponseStore
from bot.settings import Settings
from tests.scratch import age_messages


class Brain:
    """A stand-in for Rasa: echoes each message, or is down, or runs a hook first."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, object]]] = []
        self.down = False
        self.fail_on: set[str] = set()
        self.before: Callable[[str, str], object] | None = None
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.active = 0
        self.most_active = 0
        self.delay = 0.0

    async def respond(self, sender: str, text: str, metadata: dict[str, object]) -> list[str]:
        self.calls.append((sender, text, metadata))
        self.entered.set()
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await asyncio.sleep(self.delay)
            if self.gate is not None:
                await self.gate.wait()
        finally:
            self.active -= 1
        if self.down or text in self.fail_on:
            raise BrainUnavailable("Rasa unreachable: ClientConnectorError")
        if self.before is not None:
            result = self.before(sender, text)
            if asyncio.iscoroutine(result):
                await result
        return [f"echo: {text}", f"({metadata['variant']})"]

    def texts(self) -> list[str]:
        return [text for _sender, text, _metadata in self.calls]


class Setup:
    def __init__(self, engine: AsyncEngine, inbox: Inbox, store: ResponseStore) -> None:
        self.engine = engine
        self.inbox = inbox
        self.store = store
        self.brain = Brain()
        self.woken: list[Channel] = []
        self.locks = LocalLocks()
        self.router = ConversationRouter(
            engine, inbox, self.brain, store, self.locks, wake=self.woken.append
        )

    async def states(self, conversation_id: int) -> list[tuple[str, str, str]]:
        messages = await conversations.transcript(self.engine, conversation_id)
        return [(m.direction, m.text, m.state) for m in messages]


@pytest.fixture
async def setup(engine: AsyncEngine, inbox: Inbox) -> Setup:
    return Setup(engine, inbox, await ResponseStore.open(engine, Settings().data_dir))


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not met within {within} s")


def tg(text: str, external_id: str, user: str = "42") -> Inbound:
    return Inbound(Channel.TELEGRAM, user, text, external_id=external_id, variant=Variant.TELEGRAM)


def x_mention(text: str, tweet_id: str, user: str = "777") -> Inbound:
    return Inbound(
        Channel.X, user, text, external_id=tweet_id, variant=Variant.X_PUBLIC, reply_to=tweet_id
    )


async def test_a_message_is_answered_and_its_replies_queued(setup: Setup) -> None:
    handled = await setup.router.handle(tg("0161", "m1"))

    assert not handled.duplicate
    assert handled.state == ConversationState.BOT
    assert [r.text for r in handled.replies] == ["echo: 0161", "(telegram)"]
    conversation = await conversations.get(setup.engine, handled.conversation_id)
    assert conversation is not None
    assert setup.brain.calls == [
        (conversation.key, "0161", {"channel": "telegram", "variant": "telegram"})
    ]
    assert await setup.states(handled.conversation_id) == [
        ("in", "0161", "processed"),
        ("out", "echo: 0161", "pending"),
        ("out", "(telegram)", "pending"),
    ]
    assert {(r.variant, r.reply_to, r.external_user_id) for r in handled.replies} == {
        (Variant.TELEGRAM, None, "42")
    }
    assert setup.woken == [Channel.TELEGRAM]


async def test_a_duplicate_is_not_processed_again(setup: Setup) -> None:
    first = await setup.router.handle(tg("hello", "m1"))

    again = await setup.router.handle(tg("hello", "m1"))

    assert again == Handled(conversation_id=0, state="", duplicate=True)
    assert setup.brain.texts() == ["hello"]
    assert len(await setup.states(first.conversation_id)) == 3
    assert setup.woken == [Channel.TELEGRAM]


@pytest.mark.parametrize("state", [ConversationState.ESCALATED, ConversationState.AGENT])
async def test_a_conversation_with_a_person_gets_no_bot_replies(
    setup: Setup, state: ConversationState
) -> None:
    first = await setup.router.handle(tg("human please", "m1"))
    await conversations.set_state(setup.engine, first.conversation_id, state)

    handled = await setup.router.handle(tg("hello?", "m2"))

    assert handled.state == state
    assert handled.replies == []
    assert setup.brain.texts() == ["human please"]
    assert (await setup.states(handled.conversation_id))[-1] == ("in", "hello?", "processed")
    assert await conversations.unanswered(setup.engine) == []


async def test_an_escalation_during_the_answer_is_reported(setup: Setup) -> None:
    async def escalate_first(sender: str, text: str) -> None:
        conversation = await conversations.by_key(setup.engine, sender)
        assert conversation is not None and conversation.id is not None
        await escalate(setup.engine, conversation.id, "request_human")

    setup.brain.before = escalate_first

    handled = await setup.router.handle(tg("agent", "m1"))

    assert handled.state == ConversationState.ESCALATED
    assert [r.text for r in handled.replies] == ["echo: agent", "(telegram)"]


async def test_when_rasa_is_down_the_customer_gets_the_holding_reply(setup: Setup) -> None:
    setup.brain.down = True

    handled = await setup.router.handle(tg("anyone there?", "m1"))

    holding = setup.store.render("utter_holding", Variant.TELEGRAM)
    assert [r.text for r in handled.replies] == [holding]
    assert await setup.states(handled.conversation_id) == [
        ("in", "anyone there?", "waiting"),
        ("out", holding, "pending"),
    ]
    assert [m.text for m in await conversations.unanswered(setup.engine)] == ["anyone there?"]
    assert setup.woken == [Channel.TELEGRAM]


async def test_answer_unanswered_answers_in_order_once_rasa_is_back(setup: Setup) -> None:
    setup.brain.down = True
    first = await setup.router.handle(tg("one", "m1", user="1"))
    await setup.router.handle(x_mention("two", "9001"))
    await setup.router.handle(tg("three", "m3", user="1"))
    setup.brain.down = False
    setup.woken.clear()
    setup.brain.calls.clear()

    assert await setup.router.answer_unanswered() == 3

    assert setup.brain.texts() == ["one", "two", "three"]
    assert [metadata["variant"] for _s, _t, metadata in setup.brain.calls] == [
        "telegram",
        "x_public",
        "telegram",
    ]
    assert await conversations.unanswered(setup.engine) == []
    replies = [s for s in await setup.states(first.conversation_id) if s[0] == "out"]
    assert [text for _d, text, _s in replies][-4:] == [
        "echo: one",
        "(telegram)",
        "echo: three",
        "(telegram)",
    ]
    assert set(setup.woken) == {Channel.TELEGRAM, Channel.X}
    assert await setup.router.answer_unanswered() == 0


async def test_a_conversation_that_fails_again_waits_and_the_others_carry_on(
    setup: Setup,
) -> None:
    setup.brain.down = True
    for n in range(1, 5):
        await setup.router.handle(tg(f"message {n}", f"m{n}", user=str(n)))
    await setup.router.handle(tg("message 2, later", "m5", user="2"))
    setup.brain.down = False
    setup.brain.fail_on = {"message 2"}
    setup.brain.calls.clear()

    assert await setup.router.answer_unanswered() == 3

    # Customer 2's later message is not asked ahead of the earlier one that failed.
    assert setup.brain.texts() == ["message 1", "message 2", "message 3", "message 4"]
    left = await conversations.unanswered(setup.engine)
    assert [m.text for m in left] == ["message 2", "message 2, later"]

    setup.brain.fail_on = set()
    assert await setup.router.answer_unanswered() == 2
    assert setup.brain.texts()[-2:] == ["message 2", "message 2, later"]


async def test_answer_unanswered_leaves_conversations_a_person_took(setup: Setup) -> None:
    setup.brain.down = True
    first = await setup.router.handle(tg("help", "m1"))
    setup.brain.down = False
    await escalate(setup.engine, first.conversation_id, "request_human")
    setup.brain.calls.clear()

    assert await setup.router.answer_unanswered() == 0
    assert setup.brain.calls == []


async def test_what_waited_for_rasa_is_not_answered_late_after_a_person_had_it(
    setup: Setup,
) -> None:
    setup.brain.down = True
    first = await setup.router.handle(tg("is it down in leeds", "m1"))
    setup.brain.down = False
    await escalate(setup.engine, first.conversation_id, "request_human")
    await conversations.set_state(setup.engine, first.conversation_id, ConversationState.BOT)
    setup.brain.calls.clear()

    assert await setup.router.answer_unanswered() == 0
    assert setup.brain.calls == []
    assert (await setup.states(first.conversation_id))[0] == (
        "in",
        "is it down in leeds",
        "processed",
    )


async def test_a_message_in_flight_is_left_to_its_answer(setup: Setup) -> None:
    setup.brain.gate = asyncio.Event()
    in_flight = asyncio.create_task(setup.router.handle(tg("0113", "m1")))
    await asyncio.wait_for(setup.brain.entered.wait(), timeout=5)

    # The catch-up neither asks Rasa again nor queues for the busy customer's lock.
    assert await asyncio.wait_for(setup.router.answer_unanswered(), timeout=5) == 0
    setup.brain.gate.set()
    handled = await in_flight

    assert setup.brain.texts() == ["0113"]
    outgoing = [s for s in await setup.states(handled.conversation_id) if s[0] == "out"]
    assert len(outgoing) == 2


async def test_a_message_a_crash_left_unanswered_is_answered_by_the_catch_up(
    setup: Setup,
) -> None:
    # Stored, then the worker died before asking Rasa.
    received = await setup.inbox.receive(tg("0161", "m1"))
    assert received is not None
    assert await setup.router.answer_unanswered() == 0  # as good as in flight, for now

    await age_messages(setup.engine, conversations.ABANDONED_AFTER)

    assert await setup.router.answer_unanswered() == 1
    assert setup.brain.texts() == ["0161"]
    assert await setup.states(received.conversation.id or 0) == [
        ("in", "0161", "processed"),
        ("out", "echo: 0161", "pending"),
        ("out", "(telegram)", "pending"),
    ]


async def test_a_slow_answer_is_not_answered_twice(setup: Setup) -> None:
    setup.brain.gate = asyncio.Event()
    in_flight = asyncio.create_task(setup.router.handle(tg("0113", "m1")))
    await asyncio.wait_for(setup.brain.entered.wait(), timeout=5)
    await age_messages(setup.engine, conversations.ABANDONED_AFTER)  # as if Rasa took minutes

    catch_up = asyncio.create_task(setup.router.answer_unanswered())
    await until(lambda: sum(setup.locks._users.values()) == 2)  # it waits for the lock
    setup.brain.gate.set()
    handled = await in_flight

    assert await catch_up == 0  # re-checked under the lock: answered meanwhile
    assert setup.brain.texts() == ["0113"]
    outgoing = [s for s in await setup.states(handled.conversation_id) if s[0] == "out"]
    assert len(outgoing) == 2


async def test_x_replies_thread_under_the_inbound_tweet(setup: Setup) -> None:
    handled = await setup.router.handle(x_mention("@isp down in leeds", "1850000000000000001"))

    assert [(r.variant, r.reply_to) for r in handled.replies] == [
        (Variant.X_PUBLIC, "1850000000000000001"),
        (Variant.X_PUBLIC, "1850000000000000001"),
    ]
    assert handled.replies[1].text == "(x_public)"
    assert setup.woken == [Channel.X]
    claimed = await conversations.transcript(setup.engine, handled.conversation_id)
    assert {m.reply_to for m in claimed if m.direction == "out"} == {"1850000000000000001"}


async def test_x_replies_thread_after_rasa_comes_back(setup: Setup) -> None:
    setup.brain.down = True
    await setup.router.handle(x_mention("down?", "1850000000000000002"))
    setup.brain.down = False

    await setup.router.answer_unanswered()

    late = await conversations.unanswered(setup.engine)
    assert late == []
    conversation = await conversations.by_channel_user(setup.engine, Channel.X, "777")
    assert conversation is not None and conversation.id is not None
    replies = [
        m
        for m in await conversations.transcript(setup.engine, conversation.id)
        if m.direction == "out"
    ]
    assert [m.reply_to for m in replies] == ["1850000000000000002"] * 3
    assert {m.variant for m in replies} == {"x_public"}


async def test_web_replies_are_delivered_in_the_response(setup: Setup) -> None:
    handled = await setup.router.handle(
        Inbound(Channel.WEB, "browser-1", "hi", variant=Variant.WEB)
    )

    assert [r.text for r in handled.replies] == ["echo: hi", "(web)"]
    assert [s[2] for s in await setup.states(handled.conversation_id)] == [
        "processed",
        "sent",
        "sent",
    ]
    assert setup.woken == []


async def test_web_replies_carry_what_waited_for_pick_up_after_them(setup: Setup) -> None:
    first = await setup.router.handle(Inbound(Channel.WEB, "browser-1", "hi", variant=Variant.WEB))
    conversation = await conversations.get(setup.engine, first.conversation_id)
    assert conversation is not None
    await conversations.queue_replies(setup.engine, conversation, ["fixed now"], Variant.WEB)

    handled = await setup.router.handle(
        Inbound(Channel.WEB, "browser-1", "thanks", variant=Variant.WEB)
    )

    assert [r.text for r in handled.replies] == ["echo: thanks", "(web)", "fixed now"]
    assert {s[2] for s in await setup.states(handled.conversation_id)} == {"processed", "sent"}
    again = await setup.router.handle(Inbound(Channel.WEB, "browser-1", "ok", variant=Variant.WEB))
    assert [r.text for r in again.replies] == ["echo: ok", "(web)"]


async def test_web_messages_to_an_agent_collect_the_agents_replies(setup: Setup) -> None:
    first = await setup.router.handle(Inbound(Channel.WEB, "browser-1", "hi", variant=Variant.WEB))
    conversation = await conversations.set_state(
        setup.engine, first.conversation_id, ConversationState.AGENT
    )
    assert conversation is not None
    await conversations.queue_replies(
        setup.engine, conversation, ["agent: hello", "agent: checking"], Variant.WEB, author="ann"
    )

    handled = await setup.router.handle(
        Inbound(Channel.WEB, "browser-1", "still there?", variant=Variant.WEB)
    )

    assert handled.state == ConversationState.AGENT
    assert [r.text for r in handled.replies] == ["agent: hello", "agent: checking"]
    assert setup.brain.texts() == ["hi"]
    assert (await setup.states(handled.conversation_id))[-1] == (
        "in",
        "still there?",
        "processed",
    )
    assert setup.woken == []


async def test_a_takeover_while_a_message_waits_its_turn_silences_the_bot(setup: Setup) -> None:
    first = await setup.router.handle(tg("hello", "m1"))
    async with setup.locks.hold("telegram:42"):  # the customer's previous message, say
        waiting = asyncio.create_task(setup.router.handle(tg("anyone?", "m2")))
        await until(lambda: setup.locks._users["telegram:42"] == 2)
        await conversations.set_state(setup.engine, first.conversation_id, ConversationState.AGENT)

    handled = await waiting

    assert handled.state == ConversationState.AGENT
    assert handled.replies == []
    assert setup.brain.texts() == ["hello"]


async def test_web_replies_after_rasa_comes_back_wait_for_pick_up(setup: Setup) -> None:
    setup.brain.down = True
    handled = await setup.router.handle(
        Inbound(Channel.WEB, "browser-1", "hi", variant=Variant.WEB)
    )
    setup.brain.down = False

    await setup.router.answer_unanswered()

    states = await setup.states(handled.conversation_id)
    assert states[1][2] == "sent"  # the holding reply went out in the HTTP response
    assert [s[2] for s in states[2:]] == ["pending", "pending"]


async def test_one_customers_messages_are_answered_one_at_a_time(setup: Setup) -> None:
    setup.brain.delay = 0.05
    results = await asyncio.gather(
        *(setup.router.handle(tg(f"message {n}", f"m{n}")) for n in range(5))
    )

    assert setup.brain.most_active == 1
    assert sorted(setup.brain.texts()) == [f"message {n}" for n in range(5)]
    replies = sorted((r.message_id, r.text) for handled in results for r in handled.replies)
    echoed = [text.removeprefix("echo: ") for _id, text in replies if text.startswith("echo")]
    assert echoed == setup.brain.texts()


async def test_different_customers_are_answered_concurrently(setup: Setup) -> None:
    setup.brain.gate = asyncio.Event()
    answering = asyncio.gather(
        *(setup.router.handle(tg("hi", f"m{n}", user=str(n))) for n in range(3))
    )

    await until(lambda: setup.brain.active == 3)
    setup.brain.gate.set()
    await answering


async def test_a_leading_slash_cannot_force_an_intent_in_rasa(setup: Setup) -> None:
    await setup.router.handle(tg("/request_human", "s:1"))
    await setup.router.handle(tg("//restart now", "s:2"))
    await setup.router.handle(tg("/", "s:3"))
    assert setup.brain.texts() == ["request_human", "restart now", "?"]


async def test_telegram_group_replies_thread_under_the_message_that_asked(setup: Setup) -> None:
    inbound = Inbound(
        Channel.TELEGRAM, "-100", "outage in 0161?", "-100:7", Variant.TELEGRAM, reply_to="7"
    )
    handled = await setup.router.handle(inbound)
    assert [reply.reply_to for reply in handled.replies] == ["7", "7"]

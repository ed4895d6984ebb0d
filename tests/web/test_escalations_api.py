"""The agents' API: queue, claim, transcript, reply, release and close over HTTP."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import audit
from bot.conversations import store as conversations
from bot.handoff.escalation import escalate
from bot.keys import chat_identities_key, wakes_key
from bot.messages import Channel, Inbound
from bot.models import Escalation, Message
from tests.handoff.test_queue import escalated
from tests.web.conftest import Staff


async def test_queue_lists_open_and_claimed_most_urgent_first(
    staff: Staff, engine: AsyncEngine
) -> None:
    first_conversation, billing = await escalated(engine, "a", "billing")
    _, vulnerable = await escalated(engine, "b", "vulnerable", Channel.TELEGRAM)
    status, body = await staff.call("GET", "/api/escalations", as_="agent")
    assert status == 200
    assert [e["id"] for e in body["escalations"]] == [vulnerable, billing]
    top = body["escalations"][0]
    assert {k: top[k] for k in ("channel", "reason", "priority", "state")} == {
        "channel": "telegram",
        "reason": "vulnerable",
        "priority": 3,
        "state": "open",
    }
    assert isinstance(top["waiting_seconds"], int) and top["waiting_seconds"] >= 0
    assert body["escalations"][1]["conversation_id"] == first_conversation


async def test_claim_then_409_for_another_agent(staff: Staff, engine: AsyncEngine) -> None:
    _, escalation_id = await escalated(engine, "a")
    status, body = await staff.call("POST", f"/api/escalations/{escalation_id}/claim", as_="agent")
    assert (status, body["state"], body["agent"]) == (200, "claimed", "agent")
    status, body = await staff.call(
        "POST", f"/api/escalations/{escalation_id}/claim", as_="agent2"
    )
    assert status == 409
    assert body == {"error": f"escalation {escalation_id} is claimed by agent"}
    _, queue = await staff.call("GET", "/api/escalations")
    assert [(e["state"], e["agent"]) for e in queue["escalations"]] == [("claimed", "agent")]


async def test_claim_unknown_is_404(staff: Staff) -> None:
    for path in ["/api/escalations/999/claim", "/api/escalations/abc/claim"]:
        status, body = await staff.call("POST", path, as_="agent")
        assert status == 404, path
        assert "no escalation" in body["error"]


async def test_conversation_transcript(staff: Staff, engine: AsyncEngine) -> None:
    conversation_id, _ = await escalated(engine, "a")
    status, body = await staff.call("GET", f"/api/conversations/{conversation_id}", as_="agent")
    assert status == 200
    assert body["conversation"]["state"] == "escalated"
    assert body["escalation"]["reason"] == "request_human"
    (message,) = body["messages"]
    assert (message["direction"], message["author"], message["text"]) == (
        "in",
        "customer",
        "get me a human",
    )
    assert message["created_at"]
    status, _ = await staff.call("GET", "/api/conversations/999")
    assert status == 404


async def test_the_transcript_says_which_messages_the_flood_limit_held_back(
    staff: Staff, engine: AsyncEngine
) -> None:
    said = ["hello", "hello??", "HELLO???"]
    for n, text in enumerate(said):
        inbound = Inbound(Channel.WEB, "fast-typist", text, external_id=f"fast-{n}")
        received = await conversations.receive(engine, inbound, flood_limit=2)
        assert received is not None
    conversation_id = received.conversation.id or 0
    await escalate(engine, conversation_id, "request_human")

    status, body = await staff.call("GET", f"/api/conversations/{conversation_id}", as_="agent")

    assert status == 200
    assert [(m["text"], m["state"]) for m in body["messages"]] == [
        ("hello", "received"),
        ("hello??", "received"),
        ("HELLO???", "flooded"),
    ]


async def test_reply_reaches_the_outbox_and_wakes_the_channel(
    staff: Staff, engine: AsyncEngine
) -> None:
    conversation_id, _ = await escalated(engine, "tg-user", channel=Channel.TELEGRAM)
    wake = staff.app[wakes_key].events[Channel.TELEGRAM]
    wake.clear()
    status, body = await staff.call(
        "POST",
        f"/api/conversations/{conversation_id}/reply",
        as_="agent",
        json={"text": "Hi, I'm Sam from the support team."},
    )
    assert status == 200, body
    assert body["conversation"]["state"] == "agent"
    assert wake.is_set()
    async with AsyncSession(engine) as session:
        (row,) = (await session.exec(select(Message).where(Message.direction == "out"))).all()
    assert (row.author, row.channel, row.variant, row.state, row.text) == (
        "agent:agent",
        "telegram",
        "telegram",
        "pending",
        "Hi, I'm Sam from the support team.",
    )


async def test_x_replies_go_as_direct_messages(staff: Staff, engine: AsyncEngine) -> None:
    conversation_id, _ = await escalated(engine, "1234", channel=Channel.X)
    status, body = await staff.call(
        "POST", f"/api/conversations/{conversation_id}/reply", json={"text": "DMing you"}
    )
    assert status == 200
    assert body["message"]["variant"] == "x_dm"


async def test_web_chat_customer_picks_up_the_agents_reply(
    staff: Staff, engine: AsyncEngine
) -> None:
    issued = (await staff.app[chat_identities_key].admit("browser-1", None)).issued
    assert issued is not None
    conversation_id, _ = await escalated(engine, "browser-1")
    await staff.call(
        "POST", f"/api/conversations/{conversation_id}/reply", json={"text": "Hello from Sam"}
    )
    path, headers = "/api/chat/updates?sender=browser-1", {"X-Chat-Secret": issued}
    async with staff.client.get(path) as response:
        assert response.status == 403  # someone who only knows the name reads nothing
    async with staff.client.get(path, headers=headers) as response:
        body = await response.json()
    assert body["replies"] == [{"text": "Hello from Sam"}]
    assert body["conversation"] == {"id": conversation_id, "state": "agent"}
    async with staff.client.get(path, headers=headers) as response:
        assert (await response.json())["replies"] == []


async def test_reply_refusals(staff: Staff, engine: AsyncEngine) -> None:
    conversation_id, escalation_id = await escalated(engine, "a")
    await staff.call("POST", f"/api/escalations/{escalation_id}/claim", as_="agent")
    path = f"/api/conversations/{conversation_id}/reply"
    for role, body, status, reason in [
        ("agent2", {"text": "me too"}, 409, "claimed by agent"),
        ("agent", {"text": "  "}, 422, "must not be empty"),
        ("agent", {"text": 5}, 422, "'text' must be a string"),
        ("agent", {}, 422, "'text' must be a string"),
    ]:
        answer_status, answer = await staff.call("POST", path, as_=role, json=body)
        assert (answer_status, reason in answer["error"]) == (status, True), answer
    status, _ = await staff.call("POST", "/api/conversations/999/reply", json={"text": "hi"})
    assert status == 404


async def test_release_gives_it_back_to_the_bot(staff: Staff, engine: AsyncEngine) -> None:
    conversation_id, escalation_id = await escalated(engine, "a")
    await staff.call("POST", f"/api/escalations/{escalation_id}/claim", as_="agent")
    status, body = await staff.call(
        "POST", f"/api/conversations/{conversation_id}/release", as_="agent"
    )
    assert (status, body) == (200, {"conversation": {"id": conversation_id, "state": "bot"}})
    async with AsyncSession(engine) as session:
        escalation = await session.get(Escalation, escalation_id)
    assert escalation is not None
    assert (escalation.state, escalation.outcome) == ("closed", "released")
    _, queue = await staff.call("GET", "/api/escalations")
    assert queue == {"escalations": [], "incidents": []}
    status, body = await staff.call(
        "POST", f"/api/conversations/{conversation_id}/release", as_="agent"
    )
    assert status == 409


async def test_close_with_outcome(staff: Staff, engine: AsyncEngine) -> None:
    conversation_id, escalation_id = await escalated(engine, "a")
    await staff.call("POST", f"/api/escalations/{escalation_id}/claim", as_="agent")
    path = f"/api/conversations/{conversation_id}/close"
    status, body = await staff.call("POST", path, as_="agent", json={})
    assert (status, body["error"]) == (
        422,
        "'outcome' must be a string: how it ended, e.g. \"fixed\"",
    )
    status, body = await staff.call("POST", path, as_="agent2", json={"outcome": "fixed"})
    assert status == 409
    status, body = await staff.call("POST", path, as_="agent", json={"outcome": "router reset"})
    assert (status, body) == (200, {"conversation": {"id": conversation_id, "state": "closed"}})
    async with AsyncSession(engine) as session:
        escalation = await session.get(Escalation, escalation_id)
    assert escalation is not None
    assert (escalation.state, escalation.outcome) == ("closed", "router reset")


async def test_transcripts_are_read_only_by_those_who_need_them(
    staff: Staff, engine: AsyncEngine
) -> None:
    handed, _ = await escalated(engine, "handed")
    bot_only = await conversations.receive(
        engine, Inbound(Channel.WEB, "bot-only", "is 0161 down?", external_id="web-bot-only")
    )
    assert bot_only is not None
    private = f"/api/conversations/{bot_only.conversation.id}"

    assert (await staff.call("GET", f"/api/conversations/{handed}", as_="comms"))[0] == 403
    status, body = await staff.call("GET", private, as_="agent")
    assert status == 403 and "never handed" in body["error"]
    assert (await staff.call("GET", private, as_="admin"))[0] == 200
    assert (await staff.call("GET", f"/api/conversations/{handed}", as_="agent"))[0] == 200

    reads = [e for e in await audit.entries(engine) if e["action"] == "transcript_read"]
    assert [(e["actor"], e["target"]) for e in reads] == [
        ("agent", f"conversation {handed}"),
        ("admin", f"conversation {bot_only.conversation.id}"),
    ]

"""What every session store does alike: each test runs on the database's store and on
Redis's, each on SQLite and on PostgreSQL (the user's row is always in the database)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import User
from bot.sessions import SessionPolicy, SessionStore
from bot.users import change_password, find_user, reset_password, set_disabled, set_role
from tests.sessions.conftest import Clock, StoreFactory, new_user


async def test_a_session_opens_is_current_and_ends(
    store: SessionStore, engine: AsyncEngine
) -> None:
    user = await new_user(engine, "ann")
    opened = await store.open(user)

    found = await store.current(opened.session_id)

    assert found is not None
    assert (found.user.name, found.csrf_token) == ("ann", opened.csrf_token)
    assert opened.session_id != opened.csrf_token
    await store.end(opened.session_id)
    assert await store.current(opened.session_id) is None
    assert await store.current("") is None
    assert await store.current("not-a-session-anyone-opened") is None
    await store.end("not-a-session-anyone-opened")


async def test_a_session_ends_after_idling_and_stays_ended(
    store: SessionStore, engine: AsyncEngine, clock: Clock
) -> None:
    opened = await store.open(await new_user(engine, "bob"))
    for _ in range(3):  # used every 29 minutes: never idle for 30
        clock.advance(minutes=29)
        assert await store.current(opened.session_id) is not None

    clock.advance(minutes=31)
    assert await store.current(opened.session_id) is None
    clock.advance(minutes=-31)
    assert await store.current(opened.session_id) is None, "deleted, not just refused"


async def test_a_session_in_use_ends_at_its_absolute_lifetime(
    make_store: StoreFactory, engine: AsyncEngine, clock: Clock
) -> None:
    store = make_store(SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=1)))
    opened = await store.open(await new_user(engine, "cy"))
    for _ in range(3):
        clock.advance(minutes=20)
        assert await store.current(opened.session_id) is not None

    clock.advance(minutes=1)
    assert await store.current(opened.session_id) is None


async def test_use_is_written_at_most_once_a_minute(
    make_store: StoreFactory, engine: AsyncEngine, clock: Clock
) -> None:
    store = make_store(SessionPolicy(idle=timedelta(minutes=2), lifetime=timedelta(hours=1)))
    user = await new_user(engine, "dee")
    throttled, touched = await store.open(user), await store.open(user)

    clock.advance(seconds=30)  # too soon to write: the last use stays at the opening
    assert await store.current(throttled.session_id) is not None
    clock.advance(seconds=60)  # 90 s after the opening: written
    assert await store.current(touched.session_id) is not None
    clock.advance(seconds=40)  # 130 s after the opening, 40 s after the write

    assert await store.current(throttled.session_id) is None
    assert await store.current(touched.session_id) is not None


async def test_a_changed_user_is_signed_out_everywhere_and_no_one_else(
    store: SessionStore, engine: AsyncEngine
) -> None:
    eve, fay = await new_user(engine, "eve"), await new_user(engine, "fay")
    phone, laptop, theirs = await store.open(eve), await store.open(eve), await store.open(fay)

    await set_role(engine, store, "eve", "comms")

    assert await store.current(phone.session_id) is None
    assert await store.current(laptop.session_id) is None
    assert await store.current(theirs.session_id) is not None
    after = await store.open(await find_user(engine, "eve"))  # as signing in again would
    found = await store.current(after.session_id)
    assert found is not None and found.user.role == "comms", "a later sign-in is unaffected"


async def test_a_reset_or_own_new_password_ends_the_sessions(
    store: SessionStore, engine: AsyncEngine
) -> None:
    await new_user(engine, "gus")
    reset, temporary = await reset_password(engine, store, "gus")
    user = reset.user
    opened = await store.open(user)
    changed = await change_password(engine, store, user, temporary, "a-long-enough-password")
    assert await store.current(opened.session_id) is None

    again = await store.open(changed)
    await reset_password(engine, store, "gus")
    assert await store.current(again.session_id) is None


async def test_a_disabled_user_is_refused(store: SessionStore, engine: AsyncEngine) -> None:
    hal = await new_user(engine, "hal")
    ended, kept = await store.open(hal), await store.open(hal)
    await set_disabled(engine, store, "hal", True)
    assert await store.current(ended.session_id) is None

    # Even when the sessions outlive the change (as one in Redis would if Redis failed
    # right after the commit), the user's row refuses them.
    opened = await store.open(hal)
    async with AsyncSession(engine) as session:
        await session.exec(update(User).where(col(User.id) == hal.id).values(disabled=True))
        await session.commit()
    assert await store.current(opened.session_id) is None
    assert await store.current(kept.session_id) is None

"""The app factory: one place that builds and wires everything, in start-up order.

Each shared resource is created in a ``cleanup_ctx`` generator and closed after its
``yield``, so start-up and shut-down are symmetrical and nothing happens at import.

Over 400 lines on purpose: the contexts are listed in the order they start, and that order
(the database before the router, the router before the channels) is the point of reading
them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
from aiohttp import web

from bot import demo, kept_secrets, subscriptions
from bot.channels.canned import CannedReplies
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.x.channel import XChannel
from bot.chat_identity import ChatIdentities
from bot.conversations.locks import ConversationLocks, LocalLocks, RedisLocks
from bot.conversations.router import ConversationRouter
from bot.db import create_engine, migrate, safe_url
from bot.delivery.outbox import Outbox
from bot.delivery.wakes import Wakes
from bot.handoff import queue as handoff
from bot.handoff.notices import QueueNotices
from bot.inbox.store import open_inbox
from bot.incidents.book import Incidents
from bot.keys import (
    brain_key,
    callback_secret_key,
    chat_identities_key,
    console_events_key,
    engine_key,
    executor_key,
    http_key,
    inbox_key,
    incidents_key,
    locator_key,
    model_updates_key,
    outbox_key,
    rasa_children_key,
    redis_key,
    responses_key,
    router_key,
    sessions_key,
    settings_key,
    stats_key,
    status_board_key,
    telegram_key,
    telemetry_key,
    wakes_key,
    x_key,
)
from bot.locations import areas
from bot.locations.locator import Locator
from bot.locations.nearest_town import NearestTown
from bot.messages import Channel
from bot.operations import alerts
from bot.operations.followups import FollowUps
from bot.operations.stats import Snapshot
from bot.rasa.actions import ActionDeps, build_executor
from bot.rasa.brain import RasaBrain
from bot.rasa.process import RasaProcess, start_children, stop_children
from bot.rasa.reload import LocalBoard, ModelUpdates, ProgressBoard, RedisBoard
from bot.rasa.rotation import RedisRotation
from bot.responses.store import ResponseStore
from bot.sessions import store_for
from bot.sessions.database import DatabaseSessions
from bot.settings import Settings
from bot.status.board import StatusBoard
from bot.telemetry import Telemetry
from bot.users import authenticate_token
from bot.web.console_events import ConsoleEvents
from bot.web.errors import json_errors
from bot.web.headers import security_headers
from bot.web.limits import MAX_BODY, input_limits
from bot.web.routes import setup_routes

log = logging.getLogger(__name__)

BACKGROUND_SECONDS = 2.0
SESSION_SWEEP_SECONDS = 3600.0
"""How often ended sessions are deleted (they are refused when used in any case)."""


async def telemetry_ctx(app: web.Application) -> AsyncIterator[None]:
    """The counters ``/metrics`` shows (in files under a multiprocess folder, with workers)."""
    app[telemetry_key] = Telemetry(app[settings_key].metrics_dir)
    yield


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """Migrate the database, load reference data and the canned responses."""
    settings = app[settings_key]
    await migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    locator = app.get(locator_key) or Locator.from_data(settings.data_dir)
    await areas.load_area_codes(engine, settings.data_dir)
    app[engine_key] = engine
    app[locator_key] = locator
    app[incidents_key] = Incidents(engine, locator)
    app[status_board_key] = StatusBoard(engine, app[incidents_key], locator)
    app[responses_key] = await ResponseStore.open(
        engine, settings.data_dir, public_url=settings.public_base_url
    )
    app[outbox_key] = Outbox(engine, app[telemetry_key])
    app[chat_identities_key] = ChatIdentities(engine)
    app[stats_key] = Snapshot(engine, locator.place_for)
    if app[demo_key]:
        loaded = await demo.load_demo(engine, locator)
        log.info("demo incidents loaded: %s", ", ".join(loaded) or "none (incidents exist)")
    log.info("database ready at %s", safe_url(settings.database_url))
    # Every worker keeps its own caches fresh, so comms edits reach customers at once.
    watchers = [
        asyncio.create_task(app[responses_key].watch(), name="responses-watch"),
        asyncio.create_task(app[incidents_key].index.watch(), name="incidents-watch"),
    ]
    yield
    await _cancel(watchers)
    await engine.dispose()


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    """One HTTP client session for everything we call (Rasa, platform APIs)."""
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        app[http_key] = session
        yield


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """The Redis client, when ``REDIS_URL`` is set (several workers, Rasa scaled out)."""
    url = app[settings_key].redis_url
    if not url:
        yield
        return
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    app[redis_key] = redis
    yield
    await redis.aclose()


async def sessions_ctx(app: web.Application) -> AsyncIterator[None]:
    """Staff sign-in sessions: in Redis when there is a client, else in the database."""
    app[sessions_key] = store_for(app[engine_key], app.get(redis_key), app[settings_key])
    yield


async def rasa_ctx(app: web.Application) -> AsyncIterator[None]:
    """Use the Rasa at ``RASA_URL``, or run our own as supervised child processes.

    With Redis the Rasa servers share their trackers (the endpoints ``serve`` generates,
    and compose's), so the brain may send any conversation to any of them. Rasa's calls
    back are accepted only with the callback secret; our calls to Rasa's HTTP API carry
    its token (both from ``bot.kept_secrets``, which our children read too).
    """
    settings = app[settings_key]
    app[callback_secret_key] = kept_secrets.callback_secret(settings)
    children: list[RasaProcess] = []
    if settings.rasa_url:
        if settings.callback_secret is None:
            log.warning(
                "RASA_URL is set but OUTAGE_BOT_CALLBACK_SECRET is not: Rasa's calls to our "
                "actions and NLG will be refused unless those servers send the secret "
                "generated in %s",
                settings.var_dir / kept_secrets.CALLBACK_SECRET_FILE,
            )
        urls = settings.rasa_urls
    else:
        children = await start_children(settings, f"http://{settings.host}:{settings.port}")
        urls = tuple(child.url for child in children)
    app[rasa_children_key] = children
    redis = app.get(redis_key)
    brain = RasaBrain(
        app[http_key],
        urls,
        shared=redis is not None,
        rotation=RedisRotation(redis) if redis is not None else None,
        telemetry=app[telemetry_key],
        token=kept_secrets.rasa_token(settings),
    )
    app[brain_key] = brain
    board: ProgressBoard = RedisBoard(redis) if redis is not None else LocalBoard()
    updates = ModelUpdates(brain, app[http_key], board)
    app[model_updates_key] = updates
    watching = [asyncio.create_task(brain.watch(), name="rasa-health")]
    yield
    await updates.close()
    await _cancel(watching)
    await stop_children(children)


async def router_ctx(app: web.Application) -> AsyncIterator[None]:
    """The conversation router and the actions Rasa calls back."""
    settings = app[settings_key]
    engine = app[engine_key]
    redis = app.get(redis_key)
    locks: ConversationLocks = LocalLocks() if redis is None else RedisLocks(redis)
    # Only the primary worker delivers; the others pass their wake-ups on to it.
    wakes = Wakes(relay_to=None if app[primary_key] else redis)
    app[wakes_key] = wakes
    app[executor_key] = build_executor(
        ActionDeps(
            engine=engine,
            locator=app[locator_key],
            incidents=app[incidents_key],
            tz=settings.tz,
            responses=app[responses_key],
        )
    )
    async with open_inbox(engine, settings.flood_limit) as inbox:
        app[inbox_key] = inbox
        app[router_key] = ConversationRouter(
            engine,
            inbox,
            app[brain_key],
            app[responses_key],
            locks,
            wake=wakes,
            telemetry=app[telemetry_key],
        )
        yield


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _every(seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    while True:
        try:
            await job()
        except Exception:
            log.exception("background job %s failed; will retry", name)
        await asyncio.sleep(seconds)


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    """Keep texts fresh, answer what waited for Rasa, and tell subscribers about fixes."""
    settings = app[settings_key]
    router = app[router_key]
    responses = app[responses_key]
    wakes = app[wakes_key]

    async def notify() -> None:
        for channel in await subscriptions.notify_resolved(
            app[engine_key], responses.render, settings.tz, app[locator_key].place_for
        ):
            wakes(channel)

    tasks = [
        asyncio.create_task(
            _every(BACKGROUND_SECONDS, router.answer_unanswered, "replay"), name="replay"
        ),
        asyncio.create_task(_every(BACKGROUND_SECONDS, notify, "notify"), name="notify"),
    ]
    sessions = app[sessions_key]
    if isinstance(sessions, DatabaseSessions):  # Redis forgets ended sessions by itself
        tasks.append(
            asyncio.create_task(
                _every(SESSION_SWEEP_SECONDS, sessions.forget_expired, "sessions"),
                name="sessions",
            )
        )
    redis = app.get(redis_key)
    if redis is not None:
        relayed = functools.partial(wakes.listen, redis)  # the other workers' wake-ups
        tasks.append(
            asyncio.create_task(_every(BACKGROUND_SECONDS, relayed, "wakes"), name="wakes")
        )
    yield
    await _cancel(tasks)


def _telegram(app: web.Application) -> TelegramChannel:
    """The Telegram channel on this worker's router and outbox, built alike by every worker."""
    settings = app[settings_key]
    wakes = app[wakes_key]
    telegram = TelegramChannel(
        settings,
        app[router_key],
        app[outbox_key],
        CannedReplies(
            app[inbox_key], app[responses_key], wake=wakes, telemetry=app[telemetry_key]
        ),
        wake=wakes.events[Channel.TELEGRAM],
        towns=NearestTown.load(settings.data_dir / "town_coordinates.csv"),
    )
    app[telegram_key] = telegram
    return telegram


async def channels_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the Telegram and X channels that the settings enable, and stop them after."""
    settings = app[settings_key]
    engine = app[engine_key]
    wakes = app[wakes_key]
    started: list[TelegramChannel | XChannel] = []
    if settings.telegram_enabled:
        started.append(_telegram(app))
    if settings.x_enabled:
        x = XChannel(
            settings,
            app[router_key],
            app[outbox_key],
            engine,
            responses=app[responses_key],
            wake=wakes.events[Channel.X],
            session=app[http_key],
        )
        app[x_key] = x
        started.append(x)
    for channel in started:
        await channel.start()
    yield
    for channel in reversed(started):
        await channel.stop()


async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    """In a worker that is not the primary, take the Telegram webhook posts that reach it.

    The workers share the port, so Telegram's posts reach any of them; the primary sets
    the webhook and delivers every reply (see :meth:`TelegramChannel.start`).
    """
    settings = app[settings_key]
    if not (settings.telegram_enabled and settings.telegram_webhook_url):
        yield
        return
    telegram = _telegram(app)
    await telegram.start(deliver=False)
    yield
    await telegram.stop()


async def console_ctx(app: web.Application) -> AsyncIterator[None]:
    """The staff consoles' WebSockets.

    They are closed on shutdown rather than at cleanup: aiohttp waits for open handlers
    before it cleans up, and a console socket's handler runs until the socket closes.
    """
    engine = app[engine_key]

    async def activity() -> tuple[object, ...]:
        # The dashboard listens on the same socket: alerts moving count as a change too.
        return (*await handoff.activity(engine), *await alerts.fingerprint(engine))

    consoles = ConsoleEvents(
        activity,
        functools.partial(authenticate_token, engine),
    )
    app[console_events_key] = consoles

    async def close_sockets(_app: web.Application) -> None:
        await consoles.close()

    app.on_shutdown.append(close_sockets)
    yield


WEBHOOK_SECONDS = 5.0
"""How long posting an alert to the team's chat tool may take."""


async def _post_alert(app: web.Application, view: alerts.AlertView) -> None:
    """Post a new alert to ``ALERT_WEBHOOK_URL``; a failure is logged, never raised."""
    url = app[settings_key].alert_webhook_url
    if not url:
        return
    places = {code: app[locator_key].place_for(code) or "" for code in view.area_codes}
    try:
        async with app[http_key].post(
            url.reveal(),
            json=alerts.webhook_payload(view, places),
            timeout=aiohttp.ClientTimeout(total=WEBHOOK_SECONDS),
        ) as response:
            if response.status >= 300:
                log.warning("alert webhook answered %s", response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("alert webhook failed: %s", type(exc).__name__)


QUEUE_NOTICE_CHECK_SECONDS = 10.0
"""How often waiting customers' waits are checked against the next notice."""


async def operations_ctx(app: web.Application) -> AsyncIterator[None]:
    """The early warning, the proactive follow-ups and the queue notices, on the primary only."""
    settings = app[settings_key]
    engine = app[engine_key]
    wakes = app[wakes_key]
    thresholds = alerts.Thresholds(
        min_reports=settings.alert_min_reports,
        window=timedelta(minutes=settings.alert_window_minutes),
        growth=settings.alert_growth,
        snooze=timedelta(minutes=settings.alert_snooze_minutes),
    )
    follow_ups = FollowUps(
        engine, app[responses_key].render, settings.tz, app[locator_key].place_for
    )

    async def warn() -> None:
        for view in await alerts.check(engine, thresholds):
            await _post_alert(app, view)

    async def follow_up() -> None:
        for channel in await follow_ups.run():
            wakes(channel)

    notices = QueueNotices(
        engine, app[responses_key], timedelta(minutes=settings.queue_notice_minutes)
    )

    async def tell_waiting() -> None:
        for channel in await notices.run():
            wakes(channel)

    tasks = [
        asyncio.create_task(_every(settings.alert_check_seconds, warn, "alerts"), name="alerts"),
        asyncio.create_task(
            _every(BACKGROUND_SECONDS, follow_up, "follow-ups"), name="follow-ups"
        ),
        asyncio.create_task(
            _every(QUEUE_NOTICE_CHECK_SECONDS, tell_waiting, "queue-notices"),
            name="queue-notices",
        ),
    ]
    yield
    await _cancel(tasks)


demo_key = web.AppKey("demo", bool)
primary_key = web.AppKey("primary", bool)


def create_app(
    settings: Settings, *, demo: bool = False, primary: bool = True, locator: Locator | None = None
) -> web.Application:
    """Build the whole service for ``settings``; nothing starts until the app runs.

    Args:
        settings: the configuration.
        demo: load the demo incidents into an empty incident table.
        primary: run the platform channels and the background jobs. With several
            workers only one is primary: a Telegram token may be polled by one process
            only, and fix notifications must be queued once. The others take the
            Telegram webhook posts that reach them.
        locator: where customers are, if already read from ``settings.data_dir``
            (a test session reads it once for its hundreds of apps).
    """
    app = web.Application(
        middlewares=[security_headers, json_errors, input_limits], client_max_size=MAX_BODY
    )
    app[settings_key] = settings
    app[demo_key] = demo
    app[primary_key] = primary
    if locator is not None:
        app[locator_key] = locator
    contexts = [
        telemetry_ctx,
        database_ctx,
        http_ctx,
        redis_ctx,
        sessions_ctx,
        rasa_ctx,
        router_ctx,
        console_ctx,
    ]
    contexts += [channels_ctx, background_ctx, operations_ctx] if primary else [webhooks_ctx]
    app.cleanup_ctx.extend(contexts)
    setup_routes(app)
    return app

"""Typed keys for every shared resource on the aiohttp application."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.x.channel import XChannel
from bot.chat_identity import ChatIdentities
from bot.conversations.router import ConversationRouter
from bot.delivery.outbox import Outbox
from bot.delivery.wakes import Wakes
from bot.inbox.store import Inbox
from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.operations.stats import Snapshot
from bot.rasa.brain import RasaBrain
from bot.rasa.process import RasaProcess
from bot.rasa.reload import ModelUpdates
from bot.responses.store import ResponseStore
from bot.sessions import SessionStore
from bot.settings import Secret, Settings
from bot.status.board import StatusBoard
from bot.telemetry import Telemetry
from bot.web.console_events import ConsoleEvents

settings_key = web.AppKey("settings", Settings)
engine_key = web.AppKey("engine", AsyncEngine)
http_key = web.AppKey("http", aiohttp.ClientSession)
locator_key = web.AppKey("locator", Locator)
incidents_key = web.AppKey("incidents", Incidents)
status_board_key = web.AppKey("status_board", StatusBoard)
responses_key = web.AppKey("responses", ResponseStore)
executor_key = web.AppKey("executor", ActionExecutor)
outbox_key = web.AppKey("outbox", Outbox)
brain_key = web.AppKey("brain", RasaBrain)
callback_secret_key = web.AppKey("callback_secret", Secret)
model_updates_key = web.AppKey("model_updates", ModelUpdates)
rasa_children_key = web.AppKey("rasa_children", list[RasaProcess])
inbox_key = web.AppKey("inbox", Inbox)
router_key = web.AppKey("router", ConversationRouter)
wakes_key = web.AppKey("wakes", Wakes)
telegram_key = web.AppKey("telegram", TelegramChannel)
x_key = web.AppKey("x", XChannel)
redis_key = web.AppKey("redis", Redis)
sessions_key = web.AppKey("sessions", SessionStore)
console_events_key = web.AppKey("console_events", ConsoleEvents)
stats_key = web.AppKey("stats", Snapshot)
telemetry_key = web.AppKey("telemetry", Telemetry)
chat_identities_key = web.AppKey("chat_identities", ChatIdentities)

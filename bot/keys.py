"""Typed keys for every shared resource on the aiohttp application."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.brain import RasaBrain
from bot.channels.telegram import TelegramChannel
from bot.channels.x import XChannel
from bot.inbox import Inbox
from bot.incidents import Incidents
from bot.locations import Locator
from bot.outbox import Outbox
from bot.rasa_process import RasaProcess
from bot.responses import ResponseStore
from bot.router import ConversationRouter
from bot.settings import Settings
from bot.wakes import Wakes
from bot.web.console_events import ConsoleEvents

settings_key = web.AppKey("settings", Settings)
engine_key = web.AppKey("engine", AsyncEngine)
http_key = web.AppKey("http", aiohttp.ClientSession)
locator_key = web.AppKey("locator", Locator)
incidents_key = web.AppKey("incidents", Incidents)
responses_key = web.AppKey("responses", ResponseStore)
executor_key = web.AppKey("executor", ActionExecutor)
outbox_key = web.AppKey("outbox", Outbox)
brain_key = web.AppKey("brain", RasaBrain)
rasa_children_key = web.AppKey("rasa_children", list[RasaProcess])
inbox_key = web.AppKey("inbox", Inbox)
router_key = web.AppKey("router", ConversationRouter)
wakes_key = web.AppKey("wakes", Wakes)
telegram_key = web.AppKey("telegram", TelegramChannel)
x_key = web.AppKey("x", XChannel)
redis_key = web.AppKey("redis", Redis)
console_events_key = web.AppKey("console_events", ConsoleEvents)

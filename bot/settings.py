"""Configuration, read once from the environment (and `.env`) into a frozen object.

Environment variables win over `.env`, which wins over the defaults, as in twelve-factor
apps. Secrets are wrapped in :class:`Secret` so that printing the settings, a traceback or
a log line never shows them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.client_address import Network, trusted_proxies

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


class Secret:
    """A string that hides itself from ``repr``/``str`` so it cannot leak into logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret; call this only where the value is sent to its owner."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def default_rasa_processes() -> int:
    """One Rasa child per core, up to four.

    Rasa answers one message at a time per process (its NLU and policies are plain
    Python), so a second process on a second core nearly doubles what it can take;
    beyond four, memory (about 0.5 GB each) buys little. Conversations stick to one
    process, which keeps its tracker in memory (bot.rasa.brain).
    """
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    """Everything the service is configured with; see README's configuration table."""

    database_url: str = f"sqlite:///{ROOT / 'var' / 'outage-bot.db'}"
    host: str = "127.0.0.1"
    port: int = 8080
    rasa_url: str | None = None
    redis_url: str | None = None
    telegram_bot_token: Secret | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: Secret | None = None
    x_bearer_token: Secret | None = None
    x_api_key: Secret | None = None
    x_api_secret: Secret | None = None
    x_access_token: Secret | None = None
    x_access_secret: Secret | None = None
    x_api_url: str = "https://api.twitter.com"
    x_poll_seconds: float = 15.0
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    public_url: str | None = None
    data_dir: Path = ROOT / "data"
    intents_dir: Path = ROOT / "intents"
    var_dir: Path = ROOT / "var"
    rasa_port: int = 5005
    rasa_processes: int = field(default_factory=default_rasa_processes)
    behind_https: bool = False
    session_idle_minutes: float = 60.0
    session_max_hours: float = 12.0
    token_days: float = 90.0
    callback_secret: Secret | None = None
    """What Rasa sends in ``X-Outage-Bot-Secret`` on its calls to our actions and NLG;
    unset, one is generated into ``var/`` (``bot.kept_secrets``)."""
    rasa_token: Secret | None = None
    """The token of Rasa's own HTTP API; unset, one is generated into ``var/``."""
    alert_min_reports: int = 5
    """Early warning: customers reporting from one area in the window, at least."""
    alert_window_minutes: float = 15.0
    alert_growth: float = 4.0
    """Early warning: how many times its own trailing rate (the previous 24 h) an area needs."""
    alert_check_seconds: float = 15.0
    alert_snooze_minutes: float = 60.0
    """A dismissed alert's areas raise no new alert for this long."""
    alert_webhook_url: Secret | None = None
    """Where new alerts are posted as JSON (a chat tool's incoming webhook); a secret,
    because such URLs carry their own token."""
    queue_notice_minutes: float = 10.0
    """A customer waiting for a person is told their place again each time they have
    waited this much longer."""
    flood_limit: int = 20
    """Inbound messages a conversation may send in a rolling minute before the rest are
    stored without an answer (``bot.conversations.flood``); 0 turns the limit off."""
    trusted_proxies: tuple[Network, ...] = ()
    """Our own reverse proxies, whose ``X-Forwarded-For`` names the client
    (:mod:`bot.client_address`); empty, every request is counted by its TCP peer."""
    metrics_token: Secret | None = None
    """The bearer token ``GET /metrics`` asks for; unset, there is no ``/metrics``."""
    metrics_dir: Path | None = None
    """prometheus-client's multiprocess folder (``PROMETHEUS_MULTIPROC_DIR``), which
    ``serve --workers N`` sets for its workers so ``/metrics`` sums all of them."""

    @property
    def rasa_urls(self) -> tuple[str, ...]:
        """The Rasa servers in ``RASA_URL`` (one, or several separated by commas)."""
        if not self.rasa_url:
            return ()
        return tuple(url.strip().rstrip("/") for url in self.rasa_url.split(",") if url.strip())

    @property
    def public_base_url(self) -> str:
        """Where people reach this service (links to the status page are made from it).

        ``OUTAGE_BOT_PUBLIC_URL`` when set; otherwise the listen address (``localhost``
        for "every interface"), which is right on one machine and wrong behind a proxy,
        hence the setting.
        """
        if self.public_url:
            return self.public_url
        host = "localhost" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def x_enabled(self) -> bool:
        """Whether every credential the X channel needs is configured."""
        return all(
            (
                self.x_bearer_token,
                self.x_api_key,
                self.x_api_secret,
                self.x_access_token,
                self.x_access_secret,
            )
        )

    @property
    def telegram_enabled(self) -> bool:
        """Whether the Telegram channel is configured."""
        return bool(self.telegram_bot_token)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = None
    ) -> Settings:
        """Build settings from ``environ`` (default: the process) layered over ``env_file``.

        Raises:
            SettingsError: a value cannot be parsed; the message names the variable only.
        """
        file_values: dict[str, str] = {}
        path = env_file if env_file is not None else ROOT / ".env"
        if path.is_file():
            file_values = {k: v for k, v in dotenv_values(path).items() if v is not None}
        env = {**file_values, **(os.environ if environ is None else environ)}

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def secret(name: str) -> Secret | None:
            value = text(name)
            return Secret(value) if value else None

        def number(name: str, default: float, kind: type[int] | type[float]) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from None
            if not math.isfinite(value) or value <= 0:  # float() takes "nan" and "inf"
                raise SettingsError(f"{name} must be positive, got {raw!r}")
            return value

        def count(name: str, default: int, most: int) -> int:
            raw = text(name)
            if raw is None:
                return default
            if not (raw.isascii() and raw.isdecimal() and int(raw) <= most):
                raise SettingsError(f"{name} must be a whole number from 0 to {most}, got {raw!r}")
            return int(raw)

        def flag(name: str) -> bool:
            raw = (text(name) or "0").lower()
            if raw not in ("0", "1", "true", "false", "yes", "no"):
                raise SettingsError(f"{name} must be 1 or 0, got {raw!r}")
            return raw in ("1", "true", "yes")

        tz_name = text("OUTAGE_BOT_TZ") or "Europe/London"
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"OUTAGE_BOT_TZ is not a known time zone: {tz_name!r}") from None
        defaults = cls()
        return cls(
            database_url=text("DATABASE_URL") or defaults.database_url,
            host=text("OUTAGE_BOT_HOST") or defaults.host,
            port=int(number("OUTAGE_BOT_PORT", defaults.port, int)),
            rasa_url=(text("RASA_URL") or "").rstrip("/") or None,
            redis_url=text("REDIS_URL"),
            telegram_bot_token=secret("TELEGRAM_BOT_TOKEN"),
            telegram_api_url=text("TELEGRAM_API_URL") or defaults.telegram_api_url,
            telegram_webhook_url=text("TELEGRAM_WEBHOOK_URL"),
            telegram_webhook_secret=secret("TELEGRAM_WEBHOOK_SECRET"),
            x_bearer_token=secret("X_BEARER_TOKEN"),
            x_api_key=secret("X_API_KEY"),
            x_api_secret=secret("X_API_SECRET"),
            x_access_token=secret("X_ACCESS_TOKEN"),
            x_access_secret=secret("X_ACCESS_SECRET"),
            x_api_url=(text("X_API_URL") or defaults.x_api_url).rstrip("/"),
            x_poll_seconds=number("X_POLL_SECONDS", defaults.x_poll_seconds, float),
            tz=tz,
            public_url=_public_url(text("OUTAGE_BOT_PUBLIC_URL")),
            rasa_port=int(number("OUTAGE_BOT_RASA_PORT", defaults.rasa_port, int)),
            rasa_processes=int(number("OUTAGE_BOT_RASA_PROCESSES", defaults.rasa_processes, int)),
            behind_https=flag("OUTAGE_BOT_HTTPS"),
            session_idle_minutes=number(
                "OUTAGE_BOT_SESSION_IDLE_MINUTES", defaults.session_idle_minutes, float
            ),
            session_max_hours=number(
                "OUTAGE_BOT_SESSION_MAX_HOURS", defaults.session_max_hours, float
            ),
            token_days=number("OUTAGE_BOT_TOKEN_DAYS", defaults.token_days, float),
            callback_secret=_shared_secret("OUTAGE_BOT_CALLBACK_SECRET", secret),
            rasa_token=_shared_secret("RASA_TOKEN", secret),
            alert_min_reports=int(number("ALERT_MIN_REPORTS", defaults.alert_min_reports, int)),
            alert_window_minutes=number(
                "ALERT_WINDOW_MINUTES", defaults.alert_window_minutes, float
            ),
            alert_growth=number("ALERT_GROWTH", defaults.alert_growth, float),
            alert_check_seconds=number("ALERT_CHECK_SECONDS", defaults.alert_check_seconds, float),
            alert_snooze_minutes=number(
                "ALERT_SNOOZE_MINUTES", defaults.alert_snooze_minutes, float
            ),
            alert_webhook_url=secret("ALERT_WEBHOOK_URL"),
            queue_notice_minutes=number(
                "OUTAGE_BOT_QUEUE_NOTICE_MINUTES", defaults.queue_notice_minutes, float
            ),
            flood_limit=count("OUTAGE_BOT_FLOOD_LIMIT", defaults.flood_limit, FLOOD_LIMIT_MOST),
            trusted_proxies=_trusted_proxies(text("OUTAGE_BOT_TRUSTED_PROXIES")),
            metrics_token=secret("OUTAGE_BOT_METRICS_TOKEN"),
            metrics_dir=Path(metrics_dir)
            if (metrics_dir := text("PROMETHEUS_MULTIPROC_DIR"))
            else None,
        )


FLOOD_LIMIT_MOST = 100_000
"""A bound that keeps the limit a small integer in every database's statements."""

SHARED_SECRET = re.compile(r"[!-~]{16,256}")
"""Visible ASCII: it travels in an HTTP header, a query string and Rasa's YAML."""


def _shared_secret(name: str, read: Callable[[str], Secret | None]) -> Secret | None:
    """A secret shared with the Rasa servers, checked to work in every place it goes.

    Raises:
        SettingsError: it is too short or has spaces or other characters (not shown).
    """
    value = read(name)
    if value is not None and not SHARED_SECRET.fullmatch(value.reveal()):
        raise SettingsError(
            f"{name} must be 16 to 256 visible ASCII characters without spaces, e.g. "
            "the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return value


def _trusted_proxies(raw: str | None) -> tuple[Network, ...]:
    """Check ``OUTAGE_BOT_TRUSTED_PROXIES``, a comma-separated list of IPs and CIDR blocks.

    Raises:
        SettingsError: an entry is neither; trusting a typo would trust nobody, or everyone.
    """
    try:
        return trusted_proxies(raw or "")
    except ValueError as error:
        raise SettingsError(f"OUTAGE_BOT_TRUSTED_PROXIES: {error}") from None


def _public_url(raw: str | None) -> str | None:
    """Check ``OUTAGE_BOT_PUBLIC_URL``: an absolute http(s) address, kept without a final ``/``.

    Raises:
        SettingsError: it is not one; a bad link would go out in every answer.
    """
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"OUTAGE_BOT_PUBLIC_URL must be an http(s) address such as "
            f"https://status.example.com, got {raw!r}"
        )
    return raw.rstrip("/")

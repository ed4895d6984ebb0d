"""What operators' monitoring scrapes from the service (``GET /metrics``, Prometheus text).

Two kinds of figures:

- counted in process as things happen: customer messages in (and of them, those held
  back by the flood limit) and replies out per channel (:meth:`Telemetry.received`,
  :meth:`Telemetry.sent`) and how long Rasa takes to answer (:meth:`Telemetry.rasa_answered`);
- read from the database when scraped (:func:`read_levels`): replies waiting in the
  outbox and those that failed for good, the hand-off queue, open early-warning alerts.
  Every worker reads the same rows, so these never depend on which worker answers.

Each app has its own registry (no global one), so tests and several apps in one process
never share counts. With ``serve --workers N`` each worker counts only what it handled;
``serve`` then gives them a prometheus-client multiprocess folder under ``var/``
(``PROMETHEUS_MULTIPROC_DIR``), where each keeps its counts in a file, and a scrape sums
the files of every worker that has run since the service started, whichever answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Channel
from bot.models import Alert, AlertState, Escalation, EscalationState, Message, MessageState

RASA_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Rasa's answer times are tens of milliseconds when well, seconds under load; 30 s is the
brain's timeout."""

OUTBOX_STATES = (MessageState.PENDING, MessageState.SENDING, MessageState.FAILED)


class Telemetry:
    """One app's counters and histogram, and its ``/metrics`` page.

    Args:
        multiprocess_dir: prometheus-client's multiprocess folder when several workers
            share the port (the counters then live in files there); ``None`` for one.
    """

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        self._multiprocess_dir = multiprocess_dir
        self._messages = Counter(
            "outage_bot_messages",
            "Customer messages received (in) and replies handed to their channel (out).",
            ["channel", "direction"],
            registry=self.registry,
        )
        self._flooded = Counter(
            "outage_bot_messages_flooded",
            "Customer messages stored over the flood limit: never sent to Rasa nor answered.",
            ["channel"],
            registry=self.registry,
        )
        self._rasa = Histogram(
            "outage_bot_rasa_response_seconds",
            "How long Rasa took to answer one customer message.",
            buckets=RASA_BUCKETS,
            registry=self.registry,
        )

    def received(self, channel: Channel, *, flooded: bool = False) -> None:
        """A customer message was stored for the first time; ``flooded``: over the flood limit.

        A flooded message counts in both: it was received, and operators see a flood
        (a script, a stuck key) apart from a surge of customers.
        """
        self._messages.labels(channel.value, "in").inc()
        if flooded:
            self._flooded.labels(channel.value).inc()

    def sent(self, channel: Channel, count: int = 1) -> None:
        """``count`` replies reached their channel (or the web-chat page)."""
        if count:
            self._messages.labels(channel.value, "out").inc(count)

    def rasa_answered(self, seconds: float) -> None:
        """Rasa answered one message in ``seconds``."""
        self._rasa.observe(seconds)

    def page(self, levels: Levels) -> bytes:
        """The Prometheus text page: this process's (or every worker's) counts and ``levels``."""
        page = CollectorRegistry()
        if self._multiprocess_dir is not None:
            MultiProcessCollector(page, str(self._multiprocess_dir))  # type: ignore[no-untyped-call]
        else:
            page.register(_Of(self.registry))
        page.register(levels)
        return generate_latest(page)


class _Of(Collector):
    """Another registry's metrics, for a page that adds its own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


@dataclass(eq=False)  # a registry keeps its collectors in a dict
class Levels(Collector):
    """What the database says at one moment, as gauges."""

    outbox: dict[tuple[str, str], int] = field(default_factory=dict)
    """Replies by (channel, state): pending, sending (in flight) or failed for good."""
    queue: dict[str, int] = field(default_factory=dict)
    """Hand-offs by state: open (waiting for a person) or claimed."""
    oldest_wait_seconds: float = 0.0
    alerts_open: int = 0

    def collect(self) -> Iterator[Metric]:
        """The gauges, every label combination present (zero when there are none)."""
        outbox = GaugeMetricFamily(
            "outage_bot_outbox_messages",
            "Replies in the outbox: pending, sending (in flight) or failed for good.",
            labels=["channel", "state"],
        )
        for channel in Channel:
            for state in OUTBOX_STATES:
                outbox.add_metric(
                    [channel.value, state.value], self.outbox.get((channel, state), 0)
                )
        yield outbox
        queue = GaugeMetricFamily(
            "outage_bot_handoff_queue",
            "Hand-offs waiting for a person (open) or being handled (claimed).",
            labels=["state"],
        )
        for held in (EscalationState.OPEN, EscalationState.CLAIMED):
            queue.add_metric([held.value], self.queue.get(held.value, 0))
        yield queue
        yield GaugeMetricFamily(
            "outage_bot_handoff_oldest_wait_seconds",
            "How long the longest-waiting open hand-off has waited.",
            value=self.oldest_wait_seconds,
        )
        yield GaugeMetricFamily(
            "outage_bot_alerts_open",
            "Early-warning alerts open (reports rising where no incident is open).",
            value=self.alerts_open,
        )


async def read_levels(engine: AsyncEngine, now: datetime) -> Levels:
    """Read the gauges: each an index lookup or a count over a small set of rows."""
    levels = Levels()
    async with AsyncSession(engine) as session:
        outbox = await session.exec(
            select(Message.channel, Message.state, func.count())
            .where(
                col(Message.direction) == "out",
                col(Message.state).in_([state.value for state in OUTBOX_STATES]),
            )
            .group_by(col(Message.channel), col(Message.state))
        )
        levels.outbox = {(channel, state): int(n) for channel, state, n in outbox.all()}
        queue = await session.exec(
            select(Escalation.state, func.count(), func.min(Escalation.created_at))
            .where(col(Escalation.state) != EscalationState.CLOSED.value)
            .group_by(col(Escalation.state))
        )
        for state, count, oldest in queue.all():
            levels.queue[state] = int(count)
            if state == EscalationState.OPEN.value and oldest is not None:
                levels.oldest_wait_seconds = max(0.0, (now - oldest).total_seconds())
        alerts = await session.exec(
            select(func.count()).select_from(Alert).where(col(Alert.state) == AlertState.OPEN)
        )
        levels.alerts_open = int(alerts.one())
    return levels

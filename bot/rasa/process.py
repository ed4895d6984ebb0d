"""Training the Rasa model and running Rasa as our child process (the embedded default).

Rasa 3.6 lives in its own environment (``.venv-rasa``) because it cannot share one with
sqlmodel; we only ever start it as a program and talk to it over HTTP. Training is
skipped when nothing in ``intents/`` that affects the model has changed, because a
full training run costs minutes and ``make run`` calls it every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

from bot import kept_secrets
from bot.rasa import callback_secret
from bot.settings import ROOT, Settings
from bot.supervision import Supervised

log = logging.getLogger(__name__)

MODEL_NAME = "outage-bot"
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
LAUNCHER = "run_rasa.py"
"""In ``intents/``: plain Rasa with JSON-schema validators cached (see its docstring)."""
TOKEN_VARIABLE = "RASA_TOKEN"
"""The launcher passes it to ``rasa run --auth-token``: the environment, unlike the
command line, is not readable by every user of the machine."""
TRAINING_INPUTS = ("config.yml", "domain.yml", "data")
STABLE_AFTER = 120.0
"""Seconds a Rasa child must have run for its next crash to be restarted without backoff."""


class RasaError(RuntimeError):
    """Rasa could not be trained or started; the message says what to do."""


def model_path(intents_dir: Path) -> Path:
    """Where the trained model lives."""
    return intents_dir / "models" / f"{MODEL_NAME}.tar.gz"


def stamp_path(intents_dir: Path) -> Path:
    """Where the digest of the data the model was trained on is kept."""
    return model_path(intents_dir).with_suffix("").with_suffix(".sha256")


def training_hash(intents_dir: Path) -> str:
    """A digest of everything that shapes the model, so training runs only when needed."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for name in TRAINING_INPUTS:
        path = intents_dir / name
        files.extend(sorted(path.rglob("*")) if path.is_dir() else [path])
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(intents_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def model_is_current(intents_dir: Path) -> bool:
    """Whether the trained model matches the training data as it is now."""
    stamp = stamp_path(intents_dir)
    return (
        model_path(intents_dir).is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == training_hash(intents_dir)
    )


@contextlib.contextmanager
def _training_lock(intents_dir: Path) -> Iterator[None]:
    """Hold the lock on ``intents_dir``'s model: one ``rasa train`` writes it at a time."""
    lock = intents_dir / "models" / ".training.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def train(intents_dir: Path, force: bool = False) -> bool:
    """Train the model unless it is current; returns whether training ran.

    Rasa's own progress output goes to the terminal, since training takes minutes. Two
    trainings of one ``intents/`` never run at once (``make run`` beside a test run, two
    test workers): the second waits for the first, then finds the model current.

    Raises:
        RasaError: Rasa is not installed or training failed.
    """
    if not force and model_is_current(intents_dir):
        return False
    if not RASA_BIN.exists():
        raise RasaError(f"Rasa is not installed at {RASA_BIN}; run `make install-rasa`")
    with _training_lock(intents_dir):
        if not force and model_is_current(intents_dir):
            return False
        return _train(intents_dir)


def _train(intents_dir: Path) -> bool:
    expected = training_hash(intents_dir)
    started = time.monotonic()
    result = subprocess.run(
        [
            str(RASA_BIN),
            "train",
            "--fixed-model-name",
            MODEL_NAME,
            "--out",
            "models",
        ],
        cwd=intents_dir,
        check=False,
    )
    if result.returncode != 0:
        raise RasaError(f"rasa train failed with exit code {result.returncode}")
    stamp = stamp_path(intents_dir)
    stamp.write_text(expected + "\n")
    log.info("trained the Rasa model in %.0f s", time.monotonic() - started)
    return True


TRACKER_STORE = [
    "tracker_store:",
    "  type: tracker_store.ExpiringTrackerStore",
    "  idle_hours: 48",
    "  max_conversations: 50000",
]
"""Conversations in Rasa's memory, forgotten after two idle days or beyond 50,000."""

SHARED_TRACKER_STORE = ["tracker_store:", "  type: tracker_store.SharedTrackerStore"]
"""Scaled out, conversations in Redis (forgotten after two idle days), so that any Rasa
process can answer any of them, and their locks there too (a leaner ``RedisLockStore``):
see ``intents/tracker_store.py``, ``intents/conversation_locks.py`` and docs/scaling.md."""


def endpoints_yaml(app_url: str, redis_url: str | None) -> str:
    """Rasa's endpoints file: actions and NLG from our app; trackers and locks in Redis if set.

    Both calls carry the callback secret, which Rasa takes from its environment.
    """
    lines = [
        "action_endpoint:",
        f'  url: "{app_url}/webhooks/actions"',
        *callback_secret.endpoint_headers(),
        "nlg:",
        f'  url: "{app_url}/webhooks/nlg"',
        *callback_secret.endpoint_headers(),
    ]
    if not redis_url:
        return "\n".join([*lines, *TRACKER_STORE]) + "\n"
    lines += [*SHARED_TRACKER_STORE, *redis_connection(redis_url), "  idle_hours: 48"]
    lines += ["lock_store:", "  type: conversation_locks.SharedLockStore"]
    lines += redis_connection(redis_url)
    return "\n".join(lines) + "\n"


def redis_connection(redis_url: str) -> list[str]:
    """``REDIS_URL`` as the host, port, db and password keys of Rasa's Redis stores."""
    parts = urlsplit(redis_url)
    lines = [
        f'  url: "{parts.hostname or "127.0.0.1"}"',
        f"  port: {parts.port or 6379}",
        f"  db: {int((parts.path or '/0').lstrip('/') or 0)}",
    ]
    if parts.password:
        # The URL form is percent-encoded (redis-py decodes it); JSON quoting is valid YAML.
        lines.append(f"  password: {json.dumps(unquote(parts.password))}")
    return lines


@dataclass
class RasaProcess:
    """Rasa as a supervised child process: started, watched, restarted, stopped.

    Attributes:
        settings: where the model, the var directory and Rasa's port are.
        app_url: our app's base URL, where Rasa calls actions and NLG.
        index: which of several children this is; it listens on Rasa's port + index.
    """

    settings: Settings
    app_url: str
    index: int = 0
    _process: asyncio.subprocess.Process | None = None
    _supervised: Supervised | None = None
    _secrets: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        """The base URL Rasa answers on."""
        return f"http://127.0.0.1:{self.settings.rasa_port + self.index}"

    @property
    def log_file(self) -> Path:
        """Where this child's output goes (``var/rasa.log``, then ``rasa-1.log``, ...)."""
        suffix = f"-{self.index}" if self.index else ""
        return self.settings.var_dir / f"rasa{suffix}.log"

    async def start(self) -> None:
        """Start Rasa and keep it running; returns at once (use :meth:`wait_ready`).

        Raises:
            RasaError: Rasa is not installed or there is no trained model.
        """
        if not RASA_BIN.exists():
            raise RasaError(f"Rasa is not installed at {RASA_BIN}; run `make install-rasa`")
        if not model_path(self.settings.intents_dir).is_file():
            raise RasaError("no trained Rasa model; run `outage-bot train`")
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        self._secrets = {
            callback_secret.VARIABLE: kept_secrets.callback_secret(self.settings).reveal(),
            TOKEN_VARIABLE: kept_secrets.rasa_token(self.settings).reveal(),
        }
        endpoints = self.settings.var_dir / "rasa-endpoints.yml"
        endpoints.write_text(endpoints_yaml(self.app_url, self.settings.redis_url))
        self._supervised = Supervised(
            functools.partial(self._spawn, endpoints), f"Rasa on {self.url}", STABLE_AFTER
        )
        await self._supervised.start()

    async def _spawn(self, endpoints: Path) -> asyncio.subprocess.Process:
        with self.log_file.open("ab") as out:
            self._process = await asyncio.create_subprocess_exec(
                str(RASA_BIN.with_name("python")),
                str(self.settings.intents_dir / LAUNCHER),
                "run",
                "--enable-api",
                "--interface",
                "127.0.0.1",
                "--port",
                str(self.settings.rasa_port + self.index),
                "--model",
                str(model_path(self.settings.intents_dir)),
                "--endpoints",
                str(endpoints),
                "--credentials",
                str(self.settings.intents_dir / "credentials.yml"),
                cwd=self.settings.intents_dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={
                    **os.environ,
                    "PYTHONUNBUFFERED": "1",
                    "RASA_TELEMETRY_ENABLED": "false",
                    **self._secrets,
                },
            )
        log.info(
            "started Rasa (pid %s) on %s; log in %s", self._process.pid, self.url, self.log_file
        )
        return self._process

    @property
    def api_params(self) -> dict[str, str]:
        """The query that authenticates a call to its HTTP API (``/status``, ``/model``)."""
        return {"token": self._secrets[TOKEN_VARIABLE]}

    @property
    def pid(self) -> int | None:
        """The running child's process id, if there is one."""
        return self._supervised.pid if self._supervised else None

    @property
    def restarts(self) -> int:
        """How many times the child was started again after it died."""
        return self._supervised.restarts if self._supervised else 0

    async def wait_ready(self, session: aiohttp.ClientSession, within: float = 180.0) -> None:
        """Wait until Rasa answers with its model loaded.

        Raises:
            RasaError: it did not become ready within ``within`` seconds.
        """
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with session.get(f"{self.url}/status", params=self.api_params) as response:
                    if response.status == 200 and (await response.json()).get("model_file"):
                        return
            await asyncio.sleep(0.5)
        raise RasaError(f"Rasa did not start within {within:.0f} s; see {self.log_file}")

    async def stop(self) -> None:
        """Stop watching and terminate Rasa (killing it if it does not stop in 10 s)."""
        if self._supervised is not None:
            await self._supervised.stop(within=10)


async def start_children(settings: Settings, app_url: str) -> list[RasaProcess]:
    """Start ``settings.rasa_processes`` supervised Rasa children on consecutive ports.

    Raises:
        RasaError: Rasa is not installed or there is no trained model.
    """
    children = [RasaProcess(settings, app_url, index) for index in range(settings.rasa_processes)]
    try:
        for child in children:
            await child.start()
    except BaseException:
        await stop_children(children)
        raise
    return children


async def stop_children(children: list[RasaProcess]) -> None:
    """Stop every child, together."""
    await asyncio.gather(*(child.stop() for child in children))

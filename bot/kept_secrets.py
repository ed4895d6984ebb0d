"""Secrets the service makes for itself, kept in owner-only files under ``var/``.

Three are needed before an operator has configured anything: the shared secret Rasa
sends with its calls to our actions and NLG endpoints, the token Rasa's own HTTP API
asks for, and the first admin's password. Every worker and every restart must agree on
the first two, so each is generated once and read back from its file from then on; the
environment (``OUTAGE_BOT_CALLBACK_SECRET``, ``RASA_TOKEN``) overrides the file, which is
how several machines (docker compose) share them.

A file is created whole or not at all: its content goes into a private temporary file
(``mkstemp``: ``O_EXCL``, mode 0600), which is then hard-linked to its name. The link
fails if another process got there first, so two workers starting together end up with
one value, and nobody ever reads a half-written file.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

from bot.settings import Secret, Settings

log = logging.getLogger(__name__)

CALLBACK_SECRET_FILE = "callback-secret"
RASA_TOKEN_FILE = "rasa-token"
FIRST_RUN_FILE = "first-run-credentials.txt"


class KeptSecretError(RuntimeError):
    """A kept secret's file cannot be used; the message names the file, never the value."""


def create_once(path: Path, text: str) -> bool:
    """Write ``text`` to a new file at ``path`` readable by the owner only.

    Returns:
        Whether this call created it: ``False`` when the file existed already (then it
        is left as it was).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(scratch, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(scratch)


def kept(path: Path) -> Secret:
    """The secret in ``path``, generated (43 URL-safe characters) the first time.

    A file others may read is made owner-only again, with a warning: its secret may
    have been seen.

    Raises:
        KeptSecretError: the file is empty (it was not written by us).
    """
    if create_once(path, secrets.token_urlsafe(32) + "\n"):
        log.info("generated a secret into %s (readable only by this account)", path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("%s was readable by others; it is now owner-only", path)
        path.chmod(0o600)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise KeptSecretError(f"{path} is empty: delete it to generate a new secret")
    return Secret(value)


def callback_secret(settings: Settings) -> Secret:
    """What Rasa sends in ``X-Outage-Bot-Secret``: configured, or kept in ``var/``."""
    return settings.callback_secret or kept(settings.var_dir / CALLBACK_SECRET_FILE)


def rasa_token(settings: Settings) -> Secret:
    """The token of Rasa's own HTTP API (``--auth-token``): configured, or kept in ``var/``.

    A Rasa started without a token ignores one it is sent, so sending ours is harmless
    where ``RASA_URL`` points at such a server.
    """
    return settings.rasa_token or kept(settings.var_dir / RASA_TOKEN_FILE)


def write_first_run(var_dir: Path, text: str) -> Path:
    """Keep the first admin's credentials in an owner-only file; returns its path.

    A file from an earlier database's first run is replaced: its admin is gone.
    """
    path = var_dir / FIRST_RUN_FILE
    path.unlink(missing_ok=True)
    if not create_once(path, text):  # another process wrote one meanwhile
        raise KeptSecretError(f"{path} was created by another process; start only one")
    return path

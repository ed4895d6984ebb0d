"""The ``outage-bot`` command line: incidents, users, locations and the service itself.

Owns argument parsing and its one-line errors (``parser``), preparing the database every
command shares (``database``), and the commands run here: ``incident`` (``incidents``),
``user`` (``users``), ``locate`` (``locate``) and ``db``. May import any domain package,
lazily, inside the commands; nothing imports this package but entry points and the
commands registered in :data:`EXTENSIONS`, which use :class:`UsageError`.

Every command that touches the database first brings its schema up to date and loads the
reference data when the tables are empty, so a fresh ``DATABASE_URL`` just works. Output
meant for scripts comes last on its own line (an incident's reference, a user's API token).
Bad input gets one line on standard error and exit status 2, and nothing is written.

``serve``, ``chat``, ``train`` and the internal ``worker`` live in other modules; they are
registered in :data:`EXTENSIONS` as ``"module:function"`` so this package stays importable
(and ``--help`` fast) without aiohttp, Rasa or the channels.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from bot.cli.database import db_command, prepare
from bot.cli.incidents import incident_command
from bot.cli.locate import locate_command
from bot.cli.parser import UsageError, build_parser
from bot.cli.users import user_command
from bot.settings import Settings, SettingsError

__all__ = ["COMMANDS", "EXTENSIONS", "NO_DATABASE", "UsageError", "build_parser", "main"]

Handler = Callable[[argparse.Namespace, Settings], int]
"""A command: parsed arguments and settings in, exit status out."""

EXTENSIONS: dict[str, str | None] = {
    "serve": "bot.serve:serve_command",
    "chat": "bot.terminal_chat:chat_command",
    "train": "bot.serve:train_command",
    "rasa": "bot.serve:rasa_command",
    "worker": "bot.serve:worker_command",
}
"""Commands implemented elsewhere: name -> ``"module:function"`` (a :data:`Handler`).

``None`` means the command is declared (its arguments and help exist) but not built yet;
running it says so and exits 2.
"""

COMMANDS: dict[str, Handler] = {
    "incident": incident_command,
    "user": user_command,
    "locate": locate_command,
    "db": db_command,
}
"""Commands implemented in this package (the rest are in :data:`EXTENSIONS`)."""

NO_DATABASE = frozenset({"locate", "train", "rasa"})
"""Commands that never touch the database, so they work (bulk checks, training) without one."""


def _fail(message: str, status: int = 2) -> int:
    print(f"outage-bot: error: {message}", file=sys.stderr)
    return status


def _extension(name: str) -> Handler:
    target = EXTENSIONS.get(name)
    if target is None:
        raise UsageError(f"'{name}' is not available yet in this build")
    module, _, function = target.partition(":")
    handler: Handler = getattr(importlib.import_module(module), function)
    return handler


def _is_bad_input(error: ValueError) -> bool:
    # Imported here, not at the top, so `locate` and `--help` never load SQLAlchemy.
    from bot.incidents.input import IncidentError
    from bot.responses.catalogue import ResponseError
    from bot.users import UserError

    return isinstance(error, SettingsError | IncidentError | UserError | ResponseError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        handler = COMMANDS.get(args.command) or _extension(args.command)
        if args.command not in NO_DATABASE:
            prepare(settings)
        return handler(args, settings)
    except UsageError as error:
        return _fail(str(error))
    except ValueError as error:
        if _is_bad_input(error):
            return _fail(str(error))
        raise
    except KeyboardInterrupt:
        return 130

"""The ``outage-bot`` command line: incidents, users, locations and the service itself.

Every command that touches the database first brings its schema up to date and loads the
reference data when the tables are empty, so a fresh ``DATABASE_URL`` just works. Output
meant for scripts comes last on its own line (an incident's reference, a user's API token).
Bad input gets one line on standard error and exit status 2, and nothing is written.

``serve``, ``chat``, ``train`` and the internal ``worker`` live in other modules; they are
registered in :data:`EXTENSIONS` as ``"module:function"`` so this module stays importable
(and ``--help`` fast) without aiohttp, Rasa or the channels.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn

from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.incidents.book import Incidents
    from bot.incidents.input import Locator
    from bot.incidents.view import IncidentRecord

Handler = Callable[[argparse.Namespace, Settings], int]
"""A command: parsed arguments and settings in, exit status out."""

EXTENSIONS: dict[str, str | None] = {
    "serve": "bot.serve:serve_command",
    "chat": "bot.terminal_chat:chat_command",
    "train": "bot.serve:train_command",
    "worker": "bot.serve:worker_command",
}
"""Commands implemented elsewhere: name -> ``"module:function"`` (a :data:`Handler`).

``None`` means the command is declared (its arguments and help exist) but not built yet;
running it says so and exits 2.
"""

EPILOG = """\
examples:
  outage-bot incident add --areas 020,01322 --services broadband,phone \\
      --title "Outage in London" --cause "a power failure" --eta 2026-11-25T17:45
  outage-bot incident update INC-20261125-0001 --status identified --eta 2026-11-25T19:00
  outage-bot incident resolve INC-20261125-0001
  outage-bot incident list --active
  outage-bot user add alice --role comms
  outage-bot locate "no dial tone on 0161 496 0000"
  printf 'LS6\\nManchester\\n' | outage-bot locate
  outage-bot serve --demo

Configuration comes from the environment (and .env): DATABASE_URL, OUTAGE_BOT_TZ, ...
"""


class UsageError(Exception):
    """The command cannot run as asked; the message is shown as the one-line error."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump) and exit with 2."""

    def error(self, message: str) -> NoReturn:
        """Report ``message`` on one line and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def build_parser() -> Parser:
    """Return the parser for every command, with help texts and examples."""
    parser = Parser(
        prog="outage-bot",
        description="Answers broadband and phone customers during outages "
        "(Telegram, X and web chat).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the whole service")
    serve.add_argument("--demo", action="store_true", help="load demo incidents if none exist")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="bot workers (N > 1 needs REDIS_URL and PostgreSQL)",
    )
    worker = commands.add_parser("worker")  # started by `serve --workers N`; not in the list
    worker.add_argument("--demo", action="store_true")
    worker.add_argument("--primary", action="store_true")
    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--sender", default="terminal", help="conversation id (default terminal)")
    train = commands.add_parser("train", help="train the Rasa model from intents/")
    train.add_argument("--force", action="store_true", help="train even if the model is current")

    incident = commands.add_parser("incident", help="add, list, update and resolve incidents")
    actions = incident.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add", help="record a new incident; prints its reference on the last line"
    )
    add.add_argument(
        "--areas",
        type=_csv,
        required=True,
        help="comma-separated area codes or towns, e.g. 020,0161,Leeds",
    )
    add.add_argument(
        "--services", type=_csv, required=True, help="comma-separated: broadband, phone, tv"
    )
    add.add_argument("--title", required=True, help="short title for staff and customers")
    add.add_argument("--cause", default="", help="customer-facing cause, e.g. 'a power failure'")
    add.add_argument("--eta", help="expected fix time, ISO 8601; no offset = OUTAGE_BOT_TZ")
    add.add_argument(
        "--status", default="investigating", choices=["investigating", "identified", "monitoring"]
    )
    add.add_argument("--author", default="cli", help="name recorded in the timeline")

    listing = actions.add_parser("list", help="list incidents, newest first")
    listing.add_argument("--area", help="only incidents in this area code or town")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--active", action="store_true", help="only open incidents")
    state.add_argument("--resolved", action="store_true", help="only resolved incidents")

    update = actions.add_parser("update", help="change an incident (status, ETA, areas, ...)")
    update.add_argument("reference", metavar="REF")
    update.add_argument("--eta", help="expected fix time, ISO 8601, or 'none' to clear it")
    update.add_argument(
        "--status", choices=["investigating", "identified", "monitoring", "resolved"]
    )
    update.add_argument("--areas", type=_csv, help="the complete new list of areas")
    update.add_argument("--services", type=_csv, help="the complete new list of services")
    update.add_argument("--title")
    update.add_argument("--cause")
    update.add_argument("--note", default="", help="a line for the timeline")
    update.add_argument("--author", default="cli")

    resolve = actions.add_parser("resolve", help="mark an incident fixed")
    resolve.add_argument("reference", metavar="REF")
    resolve.add_argument("--author", default="cli")

    show = actions.add_parser("show", help="one incident with its timeline")
    show.add_argument("reference", metavar="REF")

    user = commands.add_parser("user", help="console users")
    user_actions = user.add_subparsers(dest="action", metavar="ACTION", required=True)
    user_add = user_actions.add_parser(
        "add", help="create a user; prints the password, then the API token on the last line"
    )
    user_add.add_argument("name")
    user_add.add_argument("--role", required=True, choices=["agent", "comms", "admin"])

    locate = commands.add_parser(
        "locate",
        help="print CODE<TAB>PLACE for a text, or '-'; without TEXT, one answer per stdin line",
    )
    locate.add_argument("text", nargs="*", metavar="TEXT")

    db = commands.add_parser("db", help="database maintenance")
    db_actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    db_actions.add_parser(
        "upgrade", help="bring the schema up to date (also done by every command)"
    )
    return parser


# ----- running commands ---------------------------------------------------------------


def _fail(message: str, status: int = 2) -> int:
    print(f"outage-bot: error: {message}", file=sys.stderr)
    return status


def _prepare(settings: Settings) -> None:
    from bot.db import migrate_sync, safe_url

    try:
        migrate_sync(settings.database_url)
    except Exception as error:  # an unreachable or unwritable database, said in one line
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UsageError(
            f"cannot prepare the database at {safe_url(settings.database_url)}: {reason}"
        ) from None


def _locator(settings: Settings) -> Locator:
    from bot.locations.locator import Locator

    return Locator.from_data(settings.data_dir)


async def _with_database(
    settings: Settings, work: Callable[[AsyncEngine, Locator], Awaitable[int]]
) -> int:
    from bot.db import create_engine
    from bot.locations.areas import load_area_codes
    from bot.responses.store import DEFAULTS_FILE, ensure_defaults, load_catalogue

    engine = create_engine(settings.database_url)
    try:
        await load_area_codes(engine, settings.data_dir)
        await ensure_defaults(engine, load_catalogue(settings.data_dir / DEFAULTS_FILE))
        return await work(engine, _locator(settings))
    finally:
        await engine.dispose()


def _when(moment: datetime | None, settings: Settings) -> str:
    return f"{moment.astimezone(settings.tz):%Y-%m-%d %H:%M}" if moment else "-"


def _describe(record: IncidentRecord, settings: Settings) -> str:
    incident = record.incident
    return "\t".join(
        [
            incident.reference,
            incident.status,
            ",".join(record.areas),
            incident.services,
            f"eta {_when(incident.eta, settings)}",
            incident.title,
        ]
    )


async def _incident_add(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    from bot.incidents.input import parse_when

    record = await book.create(
        title=args.title,
        areas=args.areas,
        services=args.services,
        status=args.status,
        eta=parse_when(args.eta, settings.tz) if args.eta else None,
        cause=args.cause,
        author=args.author,
    )
    print(_describe(record, settings))
    print(record.incident.reference)


async def _incident_update(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    from bot.incidents.input import parse_when

    clear = args.eta is not None and args.eta.strip().lower() == "none"
    record = await book.update(
        args.reference,
        title=args.title,
        cause=args.cause,
        status=args.status,
        eta=parse_when(args.eta, settings.tz) if args.eta and not clear else None,
        clear_eta=clear,
        areas=args.areas,
        services=args.services,
        author=args.author,
        note=args.note,
    )
    print(_describe(record, settings))
    print(record.incident.reference)


async def _incident_resolve(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    record = await book.resolve(args.reference, author=args.author)
    print(f"resolved at {_when(record.incident.resolved_at, settings)}")
    print(record.incident.reference)


async def _incident_show(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    record = await book.get(args.reference)
    print(_describe(record, settings))
    if record.incident.cause:
        print(f"cause: {record.incident.cause}")
    for entry in await book.timeline(args.reference):
        print(f"{_when(entry.at, settings)}\t{entry.author}\t{entry.status}\t{entry.note}")


async def _incident_list(book: Incidents, args: argparse.Namespace, settings: Settings) -> None:
    active = True if args.active else False if args.resolved else None
    for record in await book.find(area=args.area, active=active):
        print(_describe(record, settings))


INCIDENT_ACTIONS = {
    "add": _incident_add,
    "update": _incident_update,
    "resolve": _incident_resolve,
    "show": _incident_show,
    "list": _incident_list,
}


def _incident(args: argparse.Namespace, settings: Settings) -> int:
    from bot.incidents.book import Incidents

    async def work(engine: AsyncEngine, locator: Locator) -> int:
        await INCIDENT_ACTIONS[args.action](Incidents(engine, locator), args, settings)
        return 0

    return asyncio.run(_with_database(settings, work))


def _user(args: argparse.Namespace, settings: Settings) -> int:
    from bot.users import add_user

    async def work(engine: AsyncEngine, _locator: Locator) -> int:
        user, password, token = await add_user(engine, args.name, args.role)
        print(f"created {user.role} user {user.name!r}; password, then API token (shown once):")
        print(password)
        print(token)
        return 0

    return asyncio.run(_with_database(settings, work))


def _locate(args: argparse.Namespace, settings: Settings) -> int:
    locator = _locator(settings)

    def answer(text: str) -> str:
        location = locator.locate(text)
        return f"{location.area_code}\t{location.place}" if location is not None else "-"

    if args.text:
        print(answer(" ".join(args.text)))
        return 0
    for line in sys.stdin:
        print(answer(line.rstrip("\r\n")), flush=True)
    return 0


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import safe_url

    async def work(_engine: AsyncEngine, _locator: Locator) -> int:
        print(f"database at {safe_url(settings.database_url)} is up to date")
        return 0

    return asyncio.run(_with_database(settings, work))


def _extension(name: str) -> Handler:
    target = EXTENSIONS.get(name)
    if target is None:
        raise UsageError(f"'{name}' is not available yet in this build")
    module, _, function = target.partition(":")
    handler: Handler = getattr(importlib.import_module(module), function)
    return handler


COMMANDS: dict[str, Handler] = {
    "incident": _incident,
    "user": _user,
    "locate": _locate,
    "db": _db,
}
"""Commands implemented here (the rest are in :data:`EXTENSIONS`)."""

NO_DATABASE = frozenset({"locate", "train"})
"""Commands that never touch the database, so they work (bulk checks, training) without one."""


def _is_bad_input(error: ValueError) -> bool:
    # Imported here, not at the top, so `locate` and `--help` never load SQLAlchemy.
    from bot.incidents.input import IncidentError
    from bot.responses.store import ResponseError
    from bot.users import UserError

    return isinstance(error, SettingsError | IncidentError | UserError | ResponseError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        handler = COMMANDS.get(args.command) or _extension(args.command)
        if args.command not in NO_DATABASE:
            _prepare(settings)
        return handler(args, settings)
    except UsageError as error:
        return _fail(str(error))
    except ValueError as error:
        if _is_bad_input(error):
            return _fail(str(error))
        raise
    except KeyboardInterrupt:
        return 130

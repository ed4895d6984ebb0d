"""What ``outage-bot`` accepts: every command's arguments, help and examples.

Bad usage is one line on standard error and exit status 2, never a usage dump: both the
parser's own errors (:class:`Parser`) and a command's refusal (:class:`UsageError`).
"""

from __future__ import annotations

import argparse
from typing import NoReturn

EPILOG = """\
examples:
  outage-bot incident add --areas 020,01322 --services broadband,phone \\
      --title "Outage in London" --cause "a power failure" --eta 2026-11-25T17:45
  outage-bot incident update INC-20261125-0001 --status identified --eta 2026-11-25T19:00
  outage-bot incident resolve INC-20261125-0001
  outage-bot incident list --active
  outage-bot user add alice --role comms
  outage-bot user passwd alice
  outage-bot user disable alice
  outage-bot locate "no dial tone on 0161 496 0000"
  printf 'LS6\\nManchester\\n' | outage-bot locate
  outage-bot serve --demo
  outage-bot train --reload --token "$ADMIN_TOKEN"

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
    chat.add_argument(
        "--sender",
        help="web-chat sender name (default: this install's own, kept in var/chat-identity.json)",
    )
    train = commands.add_parser("train", help="train the Rasa model from intents/")
    train.add_argument("--force", action="store_true", help="train even if the model is current")
    train.add_argument(
        "--reload",
        action="store_true",
        help="then load the model into the running service's Rasa servers, one at a time",
    )
    rasa = commands.add_parser("rasa", help="the running service's Rasa servers")
    rasa_actions = rasa.add_subparsers(dest="action", metavar="ACTION", required=True)
    reload = rasa_actions.add_parser(
        "reload",
        help="load the trained model into every Rasa server, one at a time, without downtime",
    )
    for command in (train, reload):
        command.add_argument(
            "--url", help="the running service (default: OUTAGE_BOT_HOST and _PORT)"
        )
        command.add_argument("--token", help="an admin's API token (default: OUTAGE_BOT_TOKEN)")

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
    user_actions.add_parser("list", help="every user: role, state, last sign-in")
    user_passwd = user_actions.add_parser(
        "passwd", help="a new temporary password (printed on the last line), to change at sign-in"
    )
    user_passwd.add_argument("name")
    user_disable = user_actions.add_parser(
        "disable", help="switch a user off: their sessions end and their tokens stop working"
    )
    user_disable.add_argument("name")
    user_enable = user_actions.add_parser("enable", help="switch a disabled user on again")
    user_enable.add_argument("name")
    user_actions.add_parser("tokens", help="every API token: id, owner, expiry, state")
    user_revoke = user_actions.add_parser("revoke", help="revoke an API token by its id")
    user_revoke.add_argument("token_id", type=int, metavar="ID")

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

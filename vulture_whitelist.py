"""Names vulture cannot see used: called by frameworks, by name from strings, or by the DB.

Checked by ``make lint`` (``vulture bot tests bench vulture_whitelist.py``). Add a name
here only with the reason it is alive.
"""

from bot.models import Escalation, FollowUp, IncidentStatus, Response, Service

# Enum members and columns reached through values read from the database or user input.
IncidentStatus.MONITORING
Service.BROADBAND
Service.PHONE
Response.updated_by
# Part of follow_up's unique key: the database reads it, to refuse a second follow-up.
FollowUp.occasion
# Written by each queue notice's conditional UPDATE (by name), for whoever reads the table.
Escalation.queue_noticed_at

# Protocol signatures fixed by the caller: __aexit__'s arguments, Rasa's Action.run(domain).
exc_info
domain

# Threading: set on aiosqlite's worker thread so it never holds up interpreter exit.
_.daemon

# CLI subcommands, imported lazily by name from bot.cli.EXTENSIONS ("module:function").
serve_command
worker_command
train_command
chat_command

# pytest hooks and marks; Selenium options; the fake servers' Bot API parameters.
pytest_collection_modifyitems
pytest_generate_tests
pytest_unconfigure
pytestmark
_.binary_location
reply_to_message_id
allowed_updates

# logging.LogRecord's message, rewritten masked by bot.redaction and read by formatters.
_.msg
# SQLAlchemy's engine.echo, turned on by a test to read the statements it logs.
_.echo

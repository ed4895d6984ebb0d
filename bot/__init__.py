"""outage-bot: answers broadband and phone customers during outages."""

__version__ = "0.1.0"

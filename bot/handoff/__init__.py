"""Hand-off to a person: why a conversation leaves the bot, and the agents' queue.

Owns the reasons and their priorities (``escalation``) and the queue with claiming,
replying, releasing and closing (``queue``); for a surge, which incident a hand-off is
about (``about``), the customer beside the transcript (``customer``), agents' macros
(``macros``) and one answer to everyone waiting about an incident (``bulk_answer``).
May import ``bot.conversations``, ``bot.delivery``, ``bot.incidents``, ``bot.responses``
and ``bot.audit``.
"""

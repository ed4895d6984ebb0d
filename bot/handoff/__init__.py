"""Hand-off to a person: why a conversation leaves the bot, and the agents' queue.

Owns the reasons and their priorities (``escalation``) and the queue with claiming,
replying, releasing and closing (``queue``). May import ``bot.conversations`` and
``bot.delivery``.
"""

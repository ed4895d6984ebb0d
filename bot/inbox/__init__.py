"""The inbox: the two writes every customer message costs, straight to the driver.

Owns storing each inbound message once (unique per channel and platform id) and its
answer with the outbound replies in one transaction, on SQLite (``sqlite``) and
PostgreSQL (``postgres``), behind one protocol (``store``). May import ``bot.models``,
``bot.messages`` and ``bot.conversations``; nothing outside imports its driver modules
except through ``store``.
"""

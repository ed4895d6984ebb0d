"""Every sentence the bot sends: comms-edited templates, rendered safely and cheaply.

Owns the shipped texts and the rules every text obeys (``catalogue``), the response store
and its history (``store``), the placeholder templates (``templates``) and how fix times
read to customers (``eta``). Imports nothing of ours beyond ``bot.models``,
``bot.messages`` (the variants) and ``bot.settings`` (where the data files are).
"""

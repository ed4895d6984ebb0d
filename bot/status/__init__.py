"""The public status page: what anyone may read about incidents, without asking the bot.

Owns the picture of the active and recently fixed incidents, re-read only when they
change (``board``), answering "is there a problem where I am?" from it (``search``), and
its renderings as HTML (``page``), JSON and Atom (``feed``). Pure apart from ``board``'s
reads; may import ``bot.incidents``, ``bot.locations`` and ``bot.responses``, and knows
nothing of aiohttp (``bot.web.status`` serves it). Only public fields of incidents are
read: never a note's free text, an author or anything of a customer's.
"""

"""Operations: what staff see of an outage as a whole, and what the bot does about it.

Customers' reports (:mod:`.reports`), the dashboard's figures (:mod:`.stats`) and chart
(:mod:`.chart`), the early warning (:mod:`.alerts`) and the proactive follow-ups
(:mod:`.followups`). Plain functions on the database engine: nothing here knows about
HTTP, so the web layer (``bot.web.operations_api``) and the benches call the same code.
"""

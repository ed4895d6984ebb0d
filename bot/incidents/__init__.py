"""Incidents: the faults customers ask about, kept by comms staff.

Owns the incident book, its storage and staff queries (``book``), the area-code index
customers are answered from (``index``), checking what staff type (``input``) and how an
incident is shown to staff and customers (``view``). May import ``bot.locations`` and
``bot.responses``; knows nothing of channels or the web.
"""

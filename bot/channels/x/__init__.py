"""X (Twitter) through tweepy.

The API client at a configurable base (``api``), the
channel that polls mentions and DMs and delivers the outbox (``channel``), personal
details kept out of public replies (``privacy``) and 280-character threads (``thread``).
"""

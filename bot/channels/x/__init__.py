"""X (Twitter) through tweepy.

The API client at a configurable base (``api``); the channel that wires the parts and owns
their tasks (``channel``); polling mentions and DMs into the router (``polling``) past
stored cursors (``cursor``); posting one reply (``sending``); looking on X for replies a
crash or an ambiguous failure left in doubt (``in_doubt``); personal details kept out of
public replies (``privacy``) and 280-character threads (``thread``).
"""

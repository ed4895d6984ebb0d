"""Telegram through python-telegram-bot.

Updates in (``updates``), the channel that runs polling or the webhook and delivers the
outbox (``channel``), one reply sent (``sending``), and text cut to Telegram's limits (``text``).
"""

"""Telegram through python-telegram-bot.

Updates in (``updates``), the channel that runs polling or the webhook and delivers the
outbox (``channel``), who may post to the webhook (``webhook``), one reply sent
(``sending``), and text cut to Telegram's limits (``text``).
"""

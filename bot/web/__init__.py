"""The aiohttp application: Rasa's webhooks, the web chat, the APIs and consoles."""

"""Channel adapters: each translates one platform's payloads to and from ``bot.messages``.

An adapter hands inbound messages to the conversation router (which stores them first)
and delivers replies from the persisted outbox; it holds no conversation logic itself.
"""

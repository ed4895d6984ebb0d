"""Getting replies to customers: the persisted outbox and waking its delivery.

Owns the outbox with retries and crash recovery (``outbox``) and the cross-worker wake-up
when replies are queued (``wakes``) and the one retry backoff with its policies
(``backoff``). Channels plug their senders in; nothing here knows a
platform.
"""

"""Getting replies to customers: the persisted outbox and waking its delivery.

Owns the outbox with retries and crash recovery (``outbox``) and the cross-worker wake-up
when replies are queued (``wakes``). Channels plug their senders in; nothing here knows a
platform.
"""

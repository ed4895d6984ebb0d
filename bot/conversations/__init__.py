"""Conversations: who is talking to us, what was said, and who answers next.

Owns the conversation and message records (``store``), the Core statements on their
tables that every inbox path runs (``statements``, the public part the inbox shares),
where each message goes after its channel (``router``) and one-at-a-time processing per
customer (``locks``). May import the inbox, Rasa-facing, hand-off and delivery packages;
channels import it.
"""

"""Notifications: every audited change delivered to webhooks through an outbox in the audit database.

message.py builds and signs what is sent (pure), outbox.py holds the outbox table, delivery.py sends
what is due, retries with backoff, and runs as a worker loop or a background pass after each action.
"""

"""Notifications: templates, the Message outbox, email and SMS channels (issue: messages)."""

"""Feedback: CSAT and NPS surveys, responses, review requests and reviews."""

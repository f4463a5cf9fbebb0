"""Celery entry point of the retention run (beat entry ``logs-retain``). Thin."""

from __future__ import annotations

from celery import shared_task

from postpurchase.retention.services import logs_retain


@shared_task(acks_late=True, name="postpurchase.retention.tasks.logs_retain")
def logs_retain_task() -> dict[str, int]:
    return {name: done.deleted for name, done in logs_retain().items()}

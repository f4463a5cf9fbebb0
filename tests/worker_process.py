"""Celery workers as production runs them, in processes of their own, for the tests that kill,
restart or watch one: the test database and broker passed in the environment, a log in the
test's directory, and a wait that polls real processes against a deadline (never a clock)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker on the test database (the one this test's connection uses)
    and the suite's broker, with ``extra`` on top."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": "",
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "postpurchase.settings",
        **extra,
    }


def celery_worker(
    queues: str, env: dict[str, str], log: Path, *options: str, name: str = "test"
) -> subprocess.Popen:
    """``celery worker`` on ``queues`` with ``options`` (its pool and prefetch, say), in a
    session of its own so that killing its group kills its pool too; output to ``log``."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and Celery
        [
            *(sys.executable, "-m", "celery", "-A", "postpurchase", "worker", "-Q", queues),
            *("--without-heartbeat", "--without-gossip", "--without-mingle"),
            *(f"--hostname={queues.split(',')[0]}@{name}", "--loglevel=INFO", *options),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(check, what: str, deadline: float) -> None:
    """Poll ``check()`` every 50 ms until it holds; fail naming ``what`` after ``deadline``
    seconds (reached only when something is broken)."""
    pause = threading.Event()
    for _ in range(int(deadline * 20)):
        if check():
            return
        pause.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")

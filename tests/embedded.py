"""A script of the test suite run on a fresh SQLite file, as the embedded mode runs (no Redis,
Celery's folder broker), in a subprocess of its own: the tests that show the embedded mode
gives what PostgreSQL gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str | None, env: dict, *args: str, timeout: int = 120):
    """This interpreter in the project's folder with ``env`` alone: ``-c code`` (if given) and
    ``args``; its output captured, whatever its exit status."""
    return subprocess.run(  # noqa: S603 (our own interpreter and scripts)
        [sys.executable, *(["-c", code] if code else []), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def on_fresh_sqlite(script: Path, folder: Path) -> dict:
    """What ``script`` (which migrates the database it is given and prints its outcome as JSON
    on its last line) printed, run with ``DATABASE_URL`` a new SQLite file in ``folder``."""
    unset = {"REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env.update(DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}", VAR_DIR=str(folder))
    done = run_python(None, env, str(script), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])

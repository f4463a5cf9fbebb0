"""What the benchmark scripts share."""

from __future__ import annotations


def fresh_database(pg: str, name: str) -> str:
    """Drop and create the database ``name`` on the server ``pg`` (a URL without a database);
    returns its URL."""
    import psycopg2
    from psycopg2 import sql

    admin = psycopg2.connect(f"{pg}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    return f"{pg}/{name}"


def ensure_database(url: str) -> None:
    """Create the database ``url`` names if the server does not have it yet (kept otherwise)."""
    import environ
    import psycopg2
    from psycopg2 import sql

    config = environ.Env.db_url_config(url)
    admin = psycopg2.connect(
        host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"], dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    admin.close()


def celery_worker(queues: str, processes: int, *, extra: tuple[str, ...] = (), **popen):
    """A Celery worker of this checkout in a process of its own (``subprocess.Popen``): on
    ``queues``, ``processes`` processes, no gossip, mingle or heartbeat, logging warnings only."""
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.Popen(  # noqa: S603 - this interpreter and Celery, fixed arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "postpurchase",
            "worker",
            f"--queues={queues}",
            f"--concurrency={processes}",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            *extra,
        ],
        cwd=Path(__file__).resolve().parent.parent,
        **popen,
    )

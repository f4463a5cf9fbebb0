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


def celery_beat(schedule: str, **popen):
    """Celery beat of this checkout in a process of its own (``subprocess.Popen``), its schedule
    file at ``schedule``, logging warnings only: the sweeps and ticks production runs."""
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
            "beat",
            "--loglevel=WARNING",
            f"--schedule={schedule}",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        **popen,
    )


def group_stop(process, *, grace: float = 10.0) -> None:
    """Stop a process started in a session of its own (``start_new_session=True``) and
    everything it started: SIGTERM to its process group, then SIGKILL to whatever of the group
    is left once the leader has exited or ``grace`` seconds have passed."""
    import contextlib
    import os
    import signal
    import subprocess

    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- Processes read from /proc (Linux only) ---------------------------------------------------


def proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3 on), or ``None`` when
    the process has ended."""
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def process_tree(root: int) -> list[int]:
    """``root`` and every descendant alive now, from /proc's children lists."""
    import os
    from pathlib import Path

    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                pending += [int(child) for child in children]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used by ``root``'s process tree: each live process's own and
    its children's that it has waited for (cutime, cstime), so a pool process that ended and was
    reaped still counts."""
    import os

    ticks = 0
    for pid in process_tree(root):
        fields = proc_stat(pid)
        if fields is not None:
            ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_rss_bytes(root: int) -> dict[int, int]:
    """The resident set size of each process of ``root``'s tree, by process id."""
    import os

    page = os.sysconf("SC_PAGE_SIZE")
    sizes = {}
    for pid in process_tree(root):
        fields = proc_stat(pid)
        if fields is not None:
            sizes[pid] = int(fields[21]) * page  # rss, in pages
    return sizes


def pids_named(name: str) -> list[int]:
    """The processes whose command name (``/proc/<pid>/comm``) is ``name``."""
    import os
    from pathlib import Path

    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if Path(entry.path, "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue  # it ended meanwhile
    return found


class DatabaseBackendsCpu:
    """The CPU used by the PostgreSQL backends serving one database (the server must run on
    this machine). Backends come and go, so a thread reads ``pg_stat_activity`` and each
    backend's /proc stat every ``interval`` seconds and keeps each backend's last reading; a
    backend that ends loses at most its last ``interval`` of CPU. Its own connection is to the
    ``postgres`` database, so it is not counted."""

    def __init__(self, url: str, interval: float = 1.0):
        import threading

        import environ

        config = environ.Env.db_url_config(url)
        self.database = config["NAME"]
        self.connect = {
            "host": config["HOST"],
            "port": config["PORT"] or 5432,
            "user": config["USER"],
            "dbname": "postgres",
        }
        if config.get("PASSWORD"):
            self.connect["password"] = config["PASSWORD"]
        self.interval = interval
        self.ticks: dict[int, int] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> DatabaseBackendsCpu:
        import psycopg2

        self.connection = psycopg2.connect(**self.connect)
        self.connection.autocommit = True
        self.sample()
        self.thread.start()
        return self

    def sample(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
            pids = [row[0] for row in cursor.fetchall()]
        readings = {}
        for pid in pids:
            fields = proc_stat(pid)
            if fields is not None:
                readings[pid] = int(fields[11]) + int(fields[12])
        with self.lock:
            self.ticks.update(readings)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.sample()

    def reading(self) -> dict[int, int]:
        """Each backend seen so far and its CPU ticks at its last reading (taken now)."""
        self.sample()
        with self.lock:
            return dict(self.ticks)

    @staticmethod
    def seconds_between(before: dict[int, int], after: dict[int, int]) -> float:
        """CPU seconds the backends used between two readings (one new since counts whole)."""
        import os

        used = sum(ticks - before.get(pid, 0) for pid, ticks in after.items())
        return used / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.connection.close()


def gunicorn_start(
    *, url: str, redis: str, port: int, workers: int, probe: str, env: dict | None = None
):
    """gunicorn serving the app on 127.0.0.1:``port`` as a benchmark wants it (PRODUCTION and
    DEBUG off, persistent connections, Redis as cache and broker, ``env`` on top, the static
    files collected), once ``probe`` (a path) answers at all."""
    import os
    import subprocess
    import time
    from pathlib import Path

    import requests

    root = Path(__file__).resolve().parent.parent
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis,
        "CELERY_BROKER_URL": redis,
        "PRODUCTION": "false",
        "ALLOW_INSECURE_EMBEDDED": "true",  # a local benchmark: gunicorn refuses otherwise
        "DEBUG": "false",
        "DB_CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    # WhiteNoise serves the static files from STATIC_ROOT (DEBUG off): a fresh clone has none
    # collected, and a page without its stylesheet would paint sooner than a shopper's does.
    subprocess.run(  # noqa: S603 - our own venv
        [str(root / ".venv/bin/python"), "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=root,
        env=environment,
        check=True,
    )
    command = [
        str(root / ".venv/bin/gunicorn"),
        "postpurchase.wsgi",
        f"--workers={workers}",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
    ]
    server = subprocess.Popen(command, cwd=root, env=environment)  # noqa: S603 - our own venv
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}{probe}", timeout=30)
            return server
        except requests.RequestException:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def open_loop_get(
    *, port: int, paths: list[str], rate: float, seconds: float, limit: int = 800
) -> dict:
    """GET ``paths`` (in turn) from 127.0.0.1:``port`` at ``rate`` requests a second for
    ``seconds``, open loop: each request is sent when it is due, whether or not the ones before
    it were answered, and its latency counts from when it was due, so a slow server cannot hide
    its queue. Plain HTTP/1.1 over asyncio streams, one connection a request (gunicorn's sync
    workers close each one): a client this light leaves the two cores to the server it
    measures (``requests`` in threads cost about a millisecond of CPU a request). At most
    ``limit`` requests are in flight; one over waits, its wait counted in its latency. Returns
    the count, the rate achieved, latency percentiles (ms) and the errors (non-200 answers,
    failed connections)."""
    import asyncio
    import gc
    import time

    import uvloop

    count = int(rate * seconds)
    latencies: list[float] = []
    errors: list[str] = []

    async def one(path: str, due: float, gate: asyncio.Semaphore) -> None:
        loop = asyncio.get_running_loop()
        async with gate:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                answer = await reader.read()
                writer.close()
                status = answer[9:12].decode(errors="replace")
                if status != "200" or b"\r\n\r\n" not in answer:
                    errors.append(status or "empty answer")
            except OSError as exc:
                errors.append(repr(exc))
        latencies.append(loop.time() - due)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(limit)
        start = loop.time() + 0.2
        tasks = []
        for n in range(count):
            due = start + n / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(paths[n % len(paths)], due, gate)))
        await asyncio.gather(*tasks)
        return loop.time() - start

    # The client's own cycle collector would stop it for ~100 ms once in a run (a full
    # collection over the tasks it made), and every request due meanwhile would count the
    # pause as the server's latency: it is off while the load runs (measured: docs/benchmarks).
    gc.collect()
    gc.disable()
    started = time.perf_counter()
    try:
        elapsed = uvloop.run(run())
    finally:
        gc.enable()
    ms = [value * 1000 for value in latencies]
    return {
        "requests": len(ms),
        "achieved_per_s": round(len(ms) / elapsed, 1),
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": round(time.perf_counter() - started, 1),
    }

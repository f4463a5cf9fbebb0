"""The embedded mode as a newcomer meets it: ``./scripts/run`` started fresh, then how long a new
API order takes to reach the console as its confirmation email, and what the worker costs idle.

    python3 bench/embedded.py                                 # this checkout, port 8066
    python3 bench/embedded.py --checkout /tmp/clone --port 8066 --var-dir /tmp/var_b

Only the standard library: it runs before ``scripts/run`` has made the checkout's ``.venv``.

Starts ``scripts/run`` in ``--checkout`` (its own session, so it is stopped as a whole at the
end) with ``VAR_DIR=--var-dir`` and ``PORT=--port``, after removing that var dir and the
checkout's ``var/worker.log`` and ``var/celerybeat-schedule*`` (a fresh install: migrate, seed the
demo merchant, start the web server and the worker with beat on the filesystem broker). Then:
  (1) start:   seconds until the web server answers ``/healthz`` and the worker logs ``ready``,
               and the broker's queue length then (what the seed left queued);
  (2) latency: publishes the order-confirmation blueprint for the demo merchant, makes an API
               key, POSTs one new order as docs/api.md shows (placed now, a new customer), and
               times from the request until the worker log holds the email to that customer
               (the console email backend prints it); three orders, one after the other;
  (3) idle:    waits ``--settle`` seconds, then reads the CPU ticks (utime + stime in
               /proc/<pid>/stat) of the worker's main process and every descendant (pool
               processes, embedded beat) over ``--idle`` seconds: % of one core, in all and each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import proc_stat, process_tree

# What the embedded mode keeps in VAR_DIR: nothing else is removed for a fresh start.
VAR_DIR_CONTENTS = {
    "broker", "cache", "media", "static", "db.sqlite3", "db.sqlite3-shm", "db.sqlite3-wal",
    "db.sqlite3-journal", "celerybeat-schedule",
}  # fmt: skip

PUBLISH = """
from journeys.blueprints import journey_blueprint_install
from journeys.models import Journey
from journeys.services import journey_publish
from postpurchase.tenancy.models import Merchant
merchant = Merchant.objects.get(slug="demo")
journey = Journey.unscoped.filter(merchant=merchant, key="order_confirmation").first()
journey = journey or journey_blueprint_install(merchant=merchant, key="order_confirmation")
journey_publish(journey=journey)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--port", type=int, default=8066)
    parser.add_argument(
        "--var-dir", type=Path, default=Path("var/bench-embedded"), help="relative: to --checkout"
    )
    parser.add_argument("--orders", type=int, default=3)
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="per wait, in seconds")
    args = parser.parse_args()

    checkout = args.checkout.resolve()
    args.var_dir = checkout / args.var_dir  # an absolute --var-dir stays as it is
    _fresh(checkout, args.var_dir)
    env = os.environ | {
        "PORT": str(args.port),
        "HOST": "127.0.0.1",
        "VAR_DIR": str(args.var_dir),
        "DJANGO_SETTINGS_MODULE": "postpurchase.settings",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)  # the embedded mode: SQLite and the filesystem broker
    run_log = args.var_dir.parent / f"{args.var_dir.name}-run.log"
    print(f"machine: {_machine()}")
    started = time.monotonic()
    with open(run_log, "wb") as log:
        run = subprocess.Popen(
            ["./scripts/run"], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _measure(args, checkout, env, run, started)
    finally:
        _stop(run)


def _stop(run: subprocess.Popen) -> None:
    """Stop scripts/run and everything it started (its session's process group)."""
    try:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=30)
    except ProcessLookupError:
        pass  # it had exited, and its group with it
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)


def _fresh(checkout: Path, var_dir: Path) -> None:
    if var_dir.exists() and {p.name for p in var_dir.iterdir()} - VAR_DIR_CONTENTS:
        raise SystemExit(f"{var_dir} holds more than a var dir's files; not removing it.")
    shutil.rmtree(var_dir, ignore_errors=True)
    for stale in [checkout / "var" / "worker.log", *(checkout / "var").glob("celerybeat-sched*")]:
        stale.unlink(missing_ok=True)


def _measure(args, checkout: Path, env: dict, run: subprocess.Popen, started: float) -> None:
    base = f"http://127.0.0.1:{args.port}"
    worker_log = checkout / "var" / "worker.log"
    _wait(lambda: _answers(f"{base}/healthz"), args.timeout, "the web server", run)
    _wait(lambda: "ready." in _read(worker_log), args.timeout, "the worker", run)
    queued = _queued(args.var_dir)
    print(f"(1) start: web and worker up after {time.monotonic() - started:.0f} s; "
          f"{queued} messages in the broker's queues")  # fmt: skip

    python = str(checkout / ".venv" / "bin" / "python")
    manage = [python, "manage.py"]
    subprocess.run(  # noqa: S603 - the checkout's own interpreter and manage.py
        [*manage, "shell", "-c", PUBLISH], cwd=checkout, env=env, check=True
    )
    key = subprocess.run(  # noqa: S603 - the checkout's own interpreter and manage.py
        [*manage, "create_api_key", "--merchant", "demo", "--name", "bench", "--scope", "write"],
        cwd=checkout, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    latencies = [
        _order_to_email(base, key, worker_log, args.timeout, run) for _ in range(args.orders)
    ]
    print("(2) latency, API order to its confirmation in the worker log: "
          + ", ".join(f"{s:.2f} s" for s in latencies))  # fmt: skip

    time.sleep(args.settle)
    shares, seconds = _cpu_shares(_worker_pids(run.pid), args.idle)
    print(f"(3) idle workers over {seconds:.0f} s: {sum(shares.values()):.1f} % of one core "
          f"({_queued(args.var_dir)} messages queued at the end)")  # fmt: skip
    for pid, share in shares.items():
        print(f"      pid {pid} {_cmdline(pid)[:70]}: {share:.2f} %")
    print(json.dumps({"latency_s": latencies, "idle_cpu_percent": round(sum(shares.values()), 2),
                      "queued_at_start": queued}))  # fmt: skip


def _order_to_email(base: str, key: str, worker_log: Path, timeout: float, run) -> float:
    tag = uuid.uuid4().hex[:10]
    email = f"bench-{tag}@example.net"
    body = {
        "external_id": f"bench-{tag}",
        "number": f"#B{tag}",
        "placed_at": datetime.now(UTC).isoformat(),
        "currency": "USD",
        "subtotal": "80.00", "shipping": "4.99", "tax": "0.00", "discount": "0.00",
        "total": "84.99",
        "customer": {"external_id": f"cust-{tag}", "email": email, "first_name": "Ada",
                     "accepts_email_marketing": True, "consent_source": "checkout"},
        "lines": [{"external_id": "l1", "quantity": 2, "unit_price": "40.00",
                   "product": {"external_id": "sku-shoe", "title": "Trail shoe",
                               "category": "footwear"}}],
    }  # fmt: skip
    request = urllib.request.Request(  # noqa: S310 - an http:// URL built here
        f"{base}/api/v1/orders",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"bench-{tag}",
        },
    )
    offset = worker_log.stat().st_size
    sent = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 201, response.status
    _wait(lambda: f"To: {email}" in _read(worker_log, offset), timeout, "the email", run, 0.05)
    return time.monotonic() - sent


def _cpu_shares(roots: list[int], seconds: float) -> tuple[dict[int, float], float]:
    """Each process's share of one core (%) over ``seconds``, for ``roots`` and their
    descendants."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    before, start = _ticks(roots), time.monotonic()
    time.sleep(seconds)
    after, elapsed = _ticks(roots), time.monotonic() - start
    return {
        pid: (used - before.get(pid, 0)) / ticks_per_second / elapsed * 100
        for pid, used in after.items()
    }, elapsed


def _ticks(roots: list[int]) -> dict[int, int]:
    ticks = {}
    for pid in (found for root in roots for found in process_tree(root)):
        fields = proc_stat(pid)
        if fields is not None:
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def _worker_pids(run_pid: int) -> list[int]:
    """The Celery workers' main processes (the one with beat, the one for sends): the children
    of scripts/run whose command is a celery worker."""
    found = [
        pid
        for pid in process_tree(run_pid)[1:]
        if "celery" in (command := _cmdline(pid)) and " worker" in command
    ]
    if not found:
        raise RuntimeError("No Celery worker under scripts/run")
    # a worker's pool processes are its descendants, measured with it: keep the main ones
    return [pid for pid in found if not any(pid in process_tree(other)[1:] for other in found)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
    except FileNotFoundError:
        return "?"


def _queued(var_dir: Path) -> int:
    folder = var_dir / "broker" / "out"
    return sum(1 for name in os.listdir(folder) if name.endswith(".msg")) if folder.exists() else 0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _read(path: Path, offset: int = 0) -> str:
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            return file.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _wait(done, timeout: float, what: str, run: subprocess.Popen, step: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if run.poll() is not None:
            raise RuntimeError(f"scripts/run exited ({run.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"No {what} after {timeout:.0f} s")
        time.sleep(step)


def _machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line),
        platform.processor(),
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    return f"{os.cpu_count()} CPUs ({model}), {memory} GB RAM, Python {sys.version.split()[0]}"


if __name__ == "__main__":
    main()

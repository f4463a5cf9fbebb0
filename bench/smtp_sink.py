"""A real SMTP server for the benchmarks: accepts every message and logs when it arrived.

    .venv/bin/python bench/smtp_sink.py --port 8825 --log /tmp/arrivals.tsv

aiosmtpd (a development dependency) on 127.0.0.1. For each message, once its DATA is accepted,
one line is appended to ``--log`` and flushed: the arrival time on the system's monotonic
clock (``time.monotonic()``: on Linux one clock for every process, so the benchmark that sent
the order can subtract its own readings), the order number the subject names (``#PL…``, the
benchmarks' numbers; ``?`` when there is none) and the first recipient, separated by tabs.
Prints ``ready <port>`` once it listens (``--port 0``: a free port, the one printed); stops on
SIGTERM or SIGINT. It runs in a process of its own, so its CPU is its own and not the sender's.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
import time
from email.parser import BytesHeaderParser
from email.policy import default

# The order numbers the benchmarks give their orders: "#PL", letters naming the phase and
# merchant, then digits (bench/pipeline.py, bench/soak.py).
NUMBER = re.compile(r"#PL[A-Za-z]+\d+")


class Arrivals:
    """aiosmtpd's handler: logs each accepted message's arrival and order number."""

    def __init__(self, log):
        self.log = log
        self.headers = BytesHeaderParser(policy=default)

    async def handle_DATA(self, server, session, envelope):
        arrived = time.monotonic()
        subject = str(self.headers.parsebytes(envelope.content).get("Subject", ""))
        found = NUMBER.search(subject)
        recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        number = found.group(0) if found else "?"
        self.log.write(f"{arrived:.6f}\t{number}\t{recipient}\n")
        self.log.flush()
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    import socket

    from aiosmtpd.controller import Controller

    port = args.port
    if port == 0:  # aiosmtpd checks its server by connecting, so it needs the number up front
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with open(args.log, "a", buffering=1) as log:
        controller = Controller(Arrivals(log), hostname="127.0.0.1", port=port)
        controller.start()
        print(f"ready {port}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()

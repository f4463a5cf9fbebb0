"""gunicorn's access log, as gunicorn.conf.py sets it, leaves the query string out (a Shippo
webhook's token travels there): a request logged through gunicorn's own Logger."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger

ROOT = Path(__file__).resolve().parent.parent


def test_the_access_log_names_the_path_without_the_query_string(tmp_path):
    # given: gunicorn's config with the project's settings file applied
    config = Config()
    for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
        if name in config.settings:
            config.set(name, value)
    log = tmp_path / "access.log"
    config.set("accesslog", str(log))
    logger = Logger(config)
    request = SimpleNamespace(
        method="POST",
        path="/webhooks/tracking/alpha/shippo/",
        query="token=shp_secret123",
        uri="/webhooks/tracking/alpha/shippo/?token=shp_secret123",
        version=(1, 1),
        headers=[("USER-AGENT", "Shippo/1.0")],
    )
    response = SimpleNamespace(status="200 OK", sent=2, headers=[])
    environ = {  # as gunicorn's WSGI layer builds it for that request
        "REMOTE_ADDR": "203.0.113.9",
        "REQUEST_METHOD": "POST",
        "RAW_URI": request.uri,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "Shippo/1.0",
    }

    # when
    logger.access(response, request, environ, timedelta(milliseconds=3))
    logger.close_on_exec()

    # then
    [line] = log.read_text().splitlines()
    assert '"POST /webhooks/tracking/alpha/shippo/ HTTP/1.1" 200 2' in line
    assert "shp_secret123" not in line

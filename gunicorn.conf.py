"""gunicorn's settings, read from the working directory by every gunicorn the project starts (the
image's command, docker-compose.yml, the benchmarks).

The access log leaves the query string out: a Shippo tracking webhook carries its merchant's
token there (``?token=``, docs/integrations.md), and a log line is no place for a credential.
Everything else of gunicorn's default line is kept: client, time, method, path, protocol,
status, size, referrer, user agent.
"""

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'

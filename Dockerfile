# The application image: one image for every role (web, worker, beat, migrate); docker-compose.yml
# picks the role with `command:`. The default command is the web server.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    WEB_CONCURRENCY=3

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so that a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself. Editable on purpose: settings find templates/, jinja2/ and static/ next to the
# code (BASE_DIR), so the code must run from /app rather than from site-packages.
COPY . .
RUN pip install --no-deps -e .

# Collect static files with the production storage (whitenoise's compressed manifest): the web
# process needs the manifest this writes. Production settings require the variables below; these
# placeholders exist for this command only and are not part of the image's environment. Nothing
# here connects to the database or the broker (port 1 would make any attempt fail loudly).
RUN PRODUCTION=true \
    SECRET_KEY=build-time-only-collectstatic-not-a-secret \
    ENCRYPTION_KEYS=YnVpbGQtdGltZS1vbmx5LW5vdC1hLXJlYWwta2V5ISE= \
    ANYMAIL_WEBHOOK_SECRET=build-time-only:not-a-secret \
    ALLOWED_HOSTS=localhost \
    CSRF_TRUSTED_ORIGINS=http://localhost \
    DATABASE_URL=postgres://build-time-only@127.0.0.1:1/none \
    CELERY_BROKER_URL=redis://127.0.0.1:1/0 \
    CACHE_URL=redis://127.0.0.1:1/1 \
    SITE_URL=https://localhost \
    python manage.py collectstatic --noinput

# Run as an unprivileged user that owns only what it writes: uploaded media, beat's schedule and
# its home (where gunicorn puts its control socket).
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var/media /app/var/private-media /app/var/beat \
    && chown app:app /app/var /app/var/media /app/var/private-media /app/var/beat
USER app

EXPOSE 8000

# Workers: WEB_CONCURRENCY (gunicorn reads it; about 2 x CPU cores + 1 is a good start).
# The web server refuses to start without PRODUCTION=true (postpurchase/wsgi.py): the embedded
# defaults (DEBUG, a public SECRET_KEY) are not for a server. ALLOW_INSECURE_EMBEDDED=true
# overrides that for a local trial.
CMD ["gunicorn", "postpurchase.wsgi", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-"]

"""Settings come from the environment: embedded defaults with none, production demands secrets."""

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.embedded import run_python

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from django.conf import settings as s; django.setup(); "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'db': db['ENGINE'], 'name': str(db['NAME']),"
    " 'broker': s.CELERY_BROKER_URL, 'broker_options': s.CELERY_BROKER_TRANSPORT_OPTIONS,"
    " 'email': s.EMAIL_BACKEND, 'cache': s.CACHES['default']['BACKEND'], 'debug': s.DEBUG}))"
)


def clean_env(tmp_path, **extra):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "postpurchase.settings",
    }
    env.update(extra)
    return env


def test_no_environment_gives_the_embedded_mode(tmp_path):
    # when
    result = run_python(PROBE, clean_env(tmp_path))

    # then
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    var = tmp_path / "var"
    assert found == {
        "db": "django.db.backends.sqlite3",
        "name": str(var / "db.sqlite3"),
        "broker": "filesystem://localhost//",
        "broker_options": {
            "data_folder_in": str(var / "broker" / "out"),
            "data_folder_out": str(var / "broker" / "out"),
            "processed_folder": str(var / "broker" / "processed"),
            "control_folder": str(var / "broker" / "control"),
            "store_processed": False,
        },
        "email": "django.core.mail.backends.console.EmailBackend",
        "cache": "django.core.cache.backends.filebased.FileBasedCache",
        "debug": True,
    }
    assert (var / "broker" / "out").is_dir()


def test_database_and_redis_urls_switch_to_postgresql_and_redis(tmp_path):
    result = run_python(
        PROBE,
        clean_env(
            tmp_path,
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/example",
            REDIS_URL="redis://127.0.0.1:6379/3",
        ),
    )

    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["db"] == "django.db.backends.postgresql"
    assert found["name"] == "example"
    assert found["broker"] == "redis://127.0.0.1:6379/3"
    assert found["broker_options"] == {"visibility_timeout": 3600}
    assert found["cache"] == "django.core.cache.backends.redis.RedisCache"


def production_env(tmp_path, **extra):
    """Every variable production requires, with values that pass ``check --deploy``."""
    required = dict(
        PRODUCTION="true",
        SECRET_KEY="x7Tq-ae0vK9rLm2Zp4WsYb8Nc1Hd6Fg3Jk5Qu0Ro_Vt9Xi2Ey7Aw4Ss1Dz8Cn6Bm3Lp",
        ALLOWED_HOSTS="shop.example",
        CSRF_TRUSTED_ORIGINS="https://shop.example",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        REDIS_URL="redis://127.0.0.1:6379/13",
        SITE_URL="https://shop.example",
        ENCRYPTION_KEYS="kW5qQm1fX0NvVEY3bVlpZ0hzT2dmS1pQd1N0c2N4aE0=",
        ANYMAIL_WEBHOOK_SECRET="esp:Vt9Xi2Ey7Aw4Ss1Dz8Cn6Bm3",
    )
    return clean_env(tmp_path, **{**required, **extra})


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "Set the SECRET_KEY environment variable"),
        ("ALLOWED_HOSTS", "Set the ALLOWED_HOSTS environment variable"),
        ("CSRF_TRUSTED_ORIGINS", "Set the CSRF_TRUSTED_ORIGINS environment variable"),
        ("DATABASE_URL", "Set the DATABASE_URL environment variable"),
        ("SITE_URL", "Set the SITE_URL environment variable"),
        ("ENCRYPTION_KEYS", "Set the ENCRYPTION_KEYS environment variable"),
        ("ANYMAIL_WEBHOOK_SECRET", "Set the ANYMAIL_WEBHOOK_SECRET environment variable"),
        # REDIS_URL alone gives the cache and the broker; the cache is read first
        ("REDIS_URL", "Set the CACHE_URL or REDIS_URL environment variable"),
    ],
)
def test_production_refuses_to_start_without_a_required_variable(tmp_path, missing, message):
    # given: production_env gives the broker as REDIS_URL alone, so without it there is none
    env = production_env(tmp_path)
    del env[missing]

    # when
    result = run_python(PROBE, env)

    # then
    assert result.returncode == 1
    assert f"ImproperlyConfigured: {message}" in result.stderr


def test_production_needs_a_broker_besides_the_cache(tmp_path):
    env = production_env(tmp_path, CACHE_URL="redis://127.0.0.1:6379/15")
    del env["REDIS_URL"]

    result = run_python(PROBE, env)

    assert result.returncode == 1
    assert (
        "ImproperlyConfigured: Set the CELERY_BROKER_URL or REDIS_URL environment variable"
        in result.stderr
    )


@pytest.mark.parametrize("empty", ["DATABASE_URL", "SITE_URL"])
def test_production_treats_an_empty_url_as_missing(tmp_path, empty):
    # when
    result = run_python(PROBE, production_env(tmp_path, **{empty: ""}))

    # then
    assert result.returncode == 1
    assert f"ImproperlyConfigured: Set the {empty} environment variable" in result.stderr


def test_production_takes_the_broker_from_celery_broker_url_alone(tmp_path):
    # given
    env = production_env(
        tmp_path,
        CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
        CACHE_URL="redis://127.0.0.1:6379/15",
    )
    del env["REDIS_URL"]

    # when
    result = run_python(PROBE, env)

    # then
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert (found["db"], found["broker"]) == (
        "django.db.backends.postgresql",
        "redis://127.0.0.1:6379/14",
    )


@pytest.mark.parametrize(
    ("site_url", "ssl_redirect", "starts"),
    [
        ("https://shop.example", "true", True),
        ("http://shop.example", "true", False),
        ("shop.example", "true", False),
        ("http://localhost:8000", "false", True),  # the local docker compose stack
        ("https://shop.example", "false", True),
        ("localhost:8000", "false", False),
    ],
)
def test_production_site_url_is_https_unless_the_site_is_plain_http(
    tmp_path, site_url, ssl_redirect, starts
):
    # when
    result = run_python(
        PROBE, production_env(tmp_path, SITE_URL=site_url, SECURE_SSL_REDIRECT=ssl_redirect)
    )

    # then
    assert (result.returncode == 0) is starts, result.stderr
    if not starts:
        assert (
            f"ImproperlyConfigured: SITE_URL must be an https:// URL in production "
            f"(got {site_url!r}); http:// is accepted only with SECURE_SSL_REDIRECT=false."
        ) in result.stderr


def test_check_deploy_passes_in_production_mode(tmp_path):
    # when
    result = run_python(
        None, production_env(tmp_path), "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )

    # then
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def dockerfile_collectstatic_env() -> dict[str, str]:
    """The NAME=value pairs the Dockerfile sets for its build-time collectstatic step."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    step = re.search(
        r"^RUN (PRODUCTION=true.*?) python manage.py collectstatic", dockerfile, re.M | re.S
    )
    assert step, "the Dockerfile has no `RUN PRODUCTION=true ... collectstatic` step"
    return dict(re.findall(r"(?:^|\s)([A-Z_]+)=(\S+)", step.group(1).replace("\\\n", " ")))


def test_dockerfile_build_step_provides_every_production_variable(tmp_path):
    # given: the image build has no services, so the step must not need any
    build_env = dockerfile_collectstatic_env()

    # when
    result = run_python(
        None,
        clean_env(tmp_path, **build_env, STATIC_ROOT=str(tmp_path / "static")),
        "manage.py",
        "collectstatic",
        "--noinput",
    )

    # then
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").is_file()
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SITE_URL"} <= build_env.keys()


def test_the_wsgi_application_freezes_what_start_up_allocated(tmp_path):
    """A full garbage collection must not walk the start-up heap in the middle of a request:
    the WSGI module imports every view, then freezes it."""
    code = (
        "import gc, sys; import postpurchase.wsgi as w; "
        "print(callable(w.application), gc.get_freeze_count(), 'orders.api' in sys.modules)"
    )
    result = run_python(code, clean_env(tmp_path))

    assert result.returncode == 0, result.stderr
    is_callable, frozen, views_loaded = result.stdout.split()
    assert (is_callable, views_loaded) == ("True", "True")
    assert int(frozen) > 50_000  # modules, classes and settings, not a handful


# --- gunicorn refuses the embedded mode unless told ---------------------------------------------
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn(env: dict, port: int) -> subprocess.Popen:
    """The image's command (Dockerfile ``CMD``), on a local port."""
    return subprocess.Popen(  # noqa: S603 (our own venv's gunicorn)
        [GUNICORN, "postpurchase.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_answer(server: subprocess.Popen, port: int, host: str) -> tuple[int, str]:
    """Once gunicorn has forked its worker, the first request waits in the listen queue until
    the worker has loaded the application: no polling, no sleep."""
    try:
        for line in server.stderr:
            if "Booting worker" in line:
                break
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/robots.txt", headers={"Host": host}
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (http, ours)
            return response.status, response.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_refuses_the_embedded_mode(tmp_path):
    # given: no PRODUCTION, as a forgotten .env would leave the image
    server = gunicorn(clean_env(tmp_path), free_port())

    # when
    try:
        _, errors = server.communicate(timeout=60)
    finally:
        server.kill()

    # then: the worker does not boot, gunicorn stops, and the log says why and what to do
    assert server.returncode == 3  # gunicorn's "worker failed to boot"
    assert "ImproperlyConfigured: Refusing to serve under gunicorn outside production" in errors
    assert "or ALLOW_INSECURE_EMBEDDED=true to run the embedded mode under gunicorn" in errors


def test_gunicorn_serves_the_embedded_mode_when_explicitly_allowed(tmp_path):
    # given
    port = free_port()
    server = gunicorn(clean_env(tmp_path, ALLOW_INSECURE_EMBEDDED="true"), port)

    # when / then
    assert first_answer(server, port, "127.0.0.1") == (200, "User-agent: *\nDisallow: /\n")


def test_gunicorn_serves_production(tmp_path):
    # given
    port = free_port()
    server = gunicorn(production_env(tmp_path, SECURE_SSL_REDIRECT="false"), port)

    # when / then
    assert first_answer(server, port, "shop.example") == (200, "User-agent: *\nDisallow: /\n")


def test_runserver_and_tests_load_the_wsgi_module_in_the_embedded_mode(tmp_path):
    # runserver imports postpurchase.wsgi too: the refusal is gunicorn's alone
    result = run_python("import postpurchase.wsgi", clean_env(tmp_path))

    assert (result.returncode, result.stderr) == (0, "")

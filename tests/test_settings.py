"""Settings come from the environment: embedded defaults with none, production demands secrets."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from django.conf import settings as s; django.setup(); "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'db': db['ENGINE'], 'name': str(db['NAME']),"
    " 'broker': s.CELERY_BROKER_URL, 'broker_options': s.CELERY_BROKER_TRANSPORT_OPTIONS,"
    " 'email': s.EMAIL_BACKEND, 'cache': s.CACHES['default']['BACKEND'], 'debug': s.DEBUG}))"
)


def run_python(code, env, *args):
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, *(["-c", code] if code else []), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"])
def test_production_refuses_to_start_without_its_secrets(tmp_path, missing):
    env = clean_env(
        tmp_path,
        PRODUCTION="true",
        SECRET_KEY="k" * 60,
        ALLOWED_HOSTS="shop.example",
        CSRF_TRUSTED_ORIGINS="https://shop.example",
    )
    del env[missing]

    result = run_python(PROBE, env)

    assert result.returncode == 1
    assert f"Set the {missing} environment variable" in result.stderr


def test_check_deploy_passes_in_production_mode(tmp_path):
    env = clean_env(
        tmp_path,
        PRODUCTION="true",
        SECRET_KEY="x7Tq-ae0vK9rLm2Zp4WsYb8Nc1Hd6Fg3Jk5Qu0Ro_Vt9Xi2Ey7Aw4Ss1Dz8Cn6Bm3Lp",
        ALLOWED_HOSTS="shop.example",
        CSRF_TRUSTED_ORIGINS="https://shop.example",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        REDIS_URL="redis://127.0.0.1:6379/13",
    )

    result = run_python(None, env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout

"""Which EVENT_PAYLOAD_VALIDATION a process gets when the environment does not say: strict
wherever code is written (DEBUG on: development, the embedded mode; the test suite), log in
production, where a payload lagging behind its description must never cost an order."""

import pytest
from django.conf import settings

from tests.test_settings import clean_env, production_env, run_python

PROBE = "from django.conf import settings; print(settings.EVENT_PAYLOAD_VALIDATION)"


@pytest.mark.parametrize(
    ("extra", "mode"),
    [
        ({}, "strict"),  # the embedded mode: DEBUG on
        ({"DEBUG": "false"}, "log"),
        ({"DEBUG": "false", "EVENT_PAYLOAD_VALIDATION": "strict"}, "strict"),
        ({"EVENT_PAYLOAD_VALIDATION": "log"}, "log"),
    ],
)
def test_the_default_is_strict_with_debug_on(tmp_path, extra, mode):
    result = run_python(PROBE, clean_env(tmp_path, **extra))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == mode


def test_production_defaults_to_log(tmp_path):
    result = run_python(PROBE, production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "log"


def test_an_unknown_mode_is_refused_at_start(tmp_path):
    result = run_python(PROBE, clean_env(tmp_path, EVENT_PAYLOAD_VALIDATION="loud"))

    assert result.returncode == 1
    assert 'EVENT_PAYLOAD_VALIDATION is "log" or "strict".' in result.stderr


def test_the_suite_records_events_strictly():
    # tests/conftest.py holds every test to the catalogue, whatever the environment says
    assert settings.EVENT_PAYLOAD_VALIDATION == "strict"

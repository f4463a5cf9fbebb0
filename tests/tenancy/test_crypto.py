"""Secrets encrypted at rest, and key rotation with reencrypt_secrets."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from connectors.models import InboundConfig
from postpurchase import crypto

pytestmark = pytest.mark.django_db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored_secret(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tracking_secret FROM connectors_inboundconfig WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_a_secret_is_stored_encrypted_and_read_back_in_clear(merchant_a, settings):
    settings.ENCRYPTION_KEYS = [OLD]

    config = InboundConfig.unscoped.create(merchant=merchant_a, tracking_secret="s3cret-value")

    assert stored_secret(config.pk).startswith("fernet:")
    assert "s3cret-value" not in stored_secret(config.pk)
    assert InboundConfig.unscoped.get(pk=config.pk).tracking_secret == "s3cret-value"


def test_rotation_reencrypts_with_the_first_key_so_the_old_one_can_go(merchant_a, settings):
    # given: a secret written under the old key
    settings.ENCRYPTION_KEYS = [OLD]
    config = InboundConfig.unscoped.create(merchant=merchant_a, tracking_secret="s3cret-value")

    # when: the new key goes first and the command runs
    settings.ENCRYPTION_KEYS = [NEW, OLD]
    call_command("reencrypt_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115

    # then: the new key alone reads it
    settings.ENCRYPTION_KEYS = [NEW]
    assert InboundConfig.unscoped.get(pk=config.pk).tracking_secret == "s3cret-value"


def test_a_value_under_an_unknown_key_fails_loudly(merchant_a, settings):
    settings.ENCRYPTION_KEYS = [OLD]
    config = InboundConfig.unscoped.create(merchant=merchant_a, tracking_secret="s3cret-value")

    settings.ENCRYPTION_KEYS = [NEW]

    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        InboundConfig.unscoped.get(pk=config.pk)


def test_a_malformed_key_names_the_setting(settings):
    settings.ENCRYPTION_KEYS = ["not-a-fernet-key"]

    with pytest.raises(Exception, match="ENCRYPTION_KEYS must be Fernet keys"):
        crypto.encrypt("x")

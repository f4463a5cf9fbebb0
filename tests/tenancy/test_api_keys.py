import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from postpurchase.errors import DomainError
from postpurchase.tenancy.models import ApiKey, Merchant
from postpurchase.tenancy.services import api_key_authenticate, api_key_create, api_key_revoke

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_key_is_stored_only_as_a_hash_and_authenticates(merchant_a):
    # when
    issued = api_key_create(merchant=merchant_a, name="Shop sync")

    # then
    stored = ApiKey.objects.get(pk=issued.api_key.pk)
    prefix, secret = issued.plaintext.split("_")[1], issued.plaintext.split("_", 2)[2]
    assert issued.plaintext.startswith(f"ppk_{stored.prefix}_")
    assert prefix == stored.prefix
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.filter(pk=stored.pk).values().get())
    assert api_key_authenticate(plaintext=issued.plaintext, now=NOW) == stored


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret
        lambda k: "xyz" + k[3:],  # wrong scheme
        lambda k: k.rsplit("_", 1)[0],  # missing secret
        lambda k: "",
    ],
)
def test_bad_keys_do_not_authenticate(merchant_a, mangle):
    # given
    issued = api_key_create(merchant=merchant_a, name="Shop sync")

    # when / then
    assert api_key_authenticate(plaintext=mangle(issued.plaintext), now=NOW) is None


def test_revoked_key_and_inactive_merchant_do_not_authenticate(merchant_a, merchant_b):
    # given
    revoked = api_key_create(merchant=merchant_a, name="old")
    api_key_revoke(api_key=revoked.api_key, now=NOW)
    other = api_key_create(merchant=merchant_b, name="b")
    merchant_b.is_active = False
    merchant_b.save()

    # when / then
    assert api_key_authenticate(plaintext=revoked.plaintext, now=NOW) is None
    assert api_key_authenticate(plaintext=other.plaintext, now=NOW) is None


def test_last_used_at_is_written_at_most_once_a_minute(merchant_a):
    # given
    issued = api_key_create(merchant=merchant_a, name="sync")

    # when
    api_key_authenticate(plaintext=issued.plaintext, now=NOW)
    api_key_authenticate(plaintext=issued.plaintext, now=NOW + timedelta(seconds=59))
    after_59s = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
    api_key_authenticate(plaintext=issued.plaintext, now=NOW + timedelta(seconds=61))
    after_61s = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at

    # then
    assert after_59s == NOW
    assert after_61s == NOW + timedelta(seconds=61)


def test_a_key_needs_a_name_and_a_known_scope(merchant_a):
    with pytest.raises(DomainError) as no_name:
        api_key_create(merchant=merchant_a, name="  ")
    with pytest.raises(DomainError) as bad_scope:
        api_key_create(merchant=merchant_a, name="x", scope="admin")

    assert (no_name.value.code, no_name.value.field) == ("required", "name")
    assert (bad_scope.value.code, bad_scope.value.field) == ("unknown_scope", "scope")
    assert ApiKey.objects.count() == 0


def test_create_api_key_command_prints_the_key_once(merchant_a, capsys):
    # when
    call_command("create_api_key", "--merchant", "alpha", "--name", "ERP", "--scope", "read")

    # then
    out, err = capsys.readouterr()
    key = out.strip()
    stored = ApiKey.objects.get()
    assert stored.name == "ERP"
    assert stored.scope == "read"
    assert api_key_authenticate(plaintext=key, now=NOW) == stored
    assert key not in err
    assert "cannot be shown again" in err


def test_create_api_key_command_rejects_an_unknown_merchant(db):
    with pytest.raises(CommandError, match="No merchant has the slug 'nope'"):
        call_command("create_api_key", "--merchant", "nope", "--name", "ERP")
    assert ApiKey.objects.count() == 0


def test_merchant_currency_and_country_are_validated(db):
    from django.core.exceptions import ValidationError

    from postpurchase.tenancy.services import merchant_create

    with pytest.raises(ValidationError) as excinfo:
        merchant_create(slug="x", name="X", currency="EURO", country="france")

    assert set(excinfo.value.message_dict) == {"currency", "country"}


@pytest.fixture
def clock(monkeypatch):
    """The key cache's clock, moved by hand."""
    from postpurchase.tenancy import services

    now = [1000.0]
    monkeypatch.setattr(services, "_clock", lambda: now[0])
    monkeypatch.setattr(services, "_recent_keys", {})
    return now


def test_a_key_looked_up_lately_is_trusted_for_api_key_cache_seconds(
    merchant_a, clock, settings, django_assert_num_queries
):
    # given: a key used once, then its merchant deactivated by another process
    settings.API_KEY_CACHE_SECONDS = 5
    issued = api_key_create(merchant=merchant_a, name="sync")
    api_key_authenticate(plaintext=issued.plaintext, now=NOW)
    Merchant.objects.filter(pk=merchant_a.pk).update(is_active=False)

    # when / then: trusted without a query for 5 seconds, refused after
    clock[0] += 4.9
    with django_assert_num_queries(0):
        assert api_key_authenticate(plaintext=issued.plaintext, now=NOW) == issued.api_key
    clock[0] += 0.2
    assert api_key_authenticate(plaintext=issued.plaintext, now=NOW) is None


def test_revoking_a_key_ends_its_cached_trust_at_once(merchant_a, clock, settings):
    settings.API_KEY_CACHE_SECONDS = 5
    issued = api_key_create(merchant=merchant_a, name="sync")
    api_key_authenticate(plaintext=issued.plaintext, now=NOW)

    api_key_revoke(api_key=issued.api_key, now=NOW)

    assert api_key_authenticate(plaintext=issued.plaintext, now=NOW) is None


def test_a_cached_key_still_needs_its_secret(merchant_a, clock, settings):
    settings.API_KEY_CACHE_SECONDS = 5
    issued = api_key_create(merchant=merchant_a, name="sync")
    api_key_authenticate(plaintext=issued.plaintext, now=NOW)

    wrong_secret = issued.plaintext[:-1] + ("A" if issued.plaintext[-1] != "A" else "B")
    assert api_key_authenticate(plaintext=wrong_secret, now=NOW) is None


def test_a_cache_time_of_zero_looks_the_key_up_every_time(
    merchant_a, clock, settings, django_assert_num_queries
):
    settings.API_KEY_CACHE_SECONDS = 0
    issued = api_key_create(merchant=merchant_a, name="sync")
    api_key_authenticate(plaintext=issued.plaintext, now=NOW)

    with django_assert_num_queries(1):
        api_key_authenticate(plaintext=issued.plaintext, now=NOW)

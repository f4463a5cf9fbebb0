"""The API base classes: key authentication, scopes, merchant scope and problem+json errors."""

import pytest
from rest_framework.test import APIClient

from postpurchase.tenancy.scoping import current_merchant_or_none
from postpurchase.tenancy.services import api_key_create, api_key_revoke

URL = "/api/v1/merchant"


@pytest.fixture
def client():
    return APIClient()


def test_a_valid_key_sees_its_own_merchant(client, merchant_a, merchant_b):
    # given
    issued = api_key_create(merchant=merchant_a, name="sync", scope="read")

    # when
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "slug": "alpha",
        "name": "Alpha Apparel",
        "timezone": "America/New_York",
        "currency": "USD",
        "default_locale": "en",
        "key": {"name": "sync", "prefix": issued.api_key.prefix, "scope": "read"},
    }
    assert current_merchant_or_none() is None  # reset after the request


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer ppk_nothing_here", "invalid_api_key"),
        ("Token abc", "bad_authorization_header"),
    ],
)
def test_missing_or_bad_keys_get_401_problem_json(client, merchant_a, header, code):
    # when
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(URL, **extra)

    # then
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_revoked_key_gets_401(client, merchant_a):
    issued = api_key_create(merchant=merchant_a, name="sync")
    api_key_revoke(api_key=issued.api_key)

    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_a_read_key_cannot_write(client, merchant_a):
    # given
    issued = api_key_create(merchant=merchant_a, name="reporting", scope="read")

    # when
    response = client.post(URL, {}, format="json", HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")

    # then
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_base_view_refuses_a_get_queryset_override():
    from postpurchase.api.views import MerchantScopedGenericAPIView

    with pytest.raises(TypeError, match="overrides get_queryset"):

        class Leaky(MerchantScopedGenericAPIView):
            def get_queryset(self):
                return None

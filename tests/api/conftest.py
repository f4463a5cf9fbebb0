"""Clients holding API keys of the two merchants."""

import pytest
from rest_framework.test import APIClient

from postpurchase.tenancy.services import api_key_create


def client_for(merchant, scope="write") -> APIClient:
    issued = api_key_create(merchant=merchant, name=f"{scope} key", scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    client.api_key = issued.api_key
    return client


@pytest.fixture
def api_a(merchant_a):
    return client_for(merchant_a)


@pytest.fixture
def api_b(merchant_b):
    return client_for(merchant_b)


@pytest.fixture
def api_a_read(merchant_a):
    return client_for(merchant_a, scope="read")


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle counts live in the shared cache; each test starts from none.
    from django.core.cache import cache

    cache.clear()

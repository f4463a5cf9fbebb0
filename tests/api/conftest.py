"""Each API test starts with no throttle counts (the API clients are in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle counts live in the shared cache; each test starts from none.
    from django.core.cache import cache

    cache.clear()

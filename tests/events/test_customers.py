"""The event log finds a customer through the resolver the orders app registers, never by
importing orders: within the merchant only, by our id first, else by the external id."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from orders.selectors import customer_find
from postpurchase.events.customers import CustomerResolvers, customer_resolve
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import CustomerFactory


@pytest.fixture
def ada_in_both(merchant_a, merchant_b):
    """A customer "cust-1" in each merchant."""
    with merchant_scope(merchant_a):
        ada_a = CustomerFactory(merchant=merchant_a, external_id="cust-1")
    with merchant_scope(merchant_b):
        ada_b = CustomerFactory(merchant=merchant_b, external_id="cust-1")
    return ada_a, ada_b


def test_the_orders_app_resolves_a_customer_by_id_within_the_merchant(ada_in_both, merchant_a):
    # given
    ada_a, ada_b = ada_in_both
    # when
    own = customer_resolve(merchant=merchant_a, customer_id=ada_a.pk)
    other = customer_resolve(merchant=merchant_a, customer_id=ada_b.pk)
    # then: merchant B's customer does not exist for merchant A
    assert (own, other) == (ada_a, None)


def test_the_orders_app_resolves_a_customer_by_external_id_within_the_merchant(
    ada_in_both, merchant_b
):
    # given
    _, ada_b = ada_in_both
    # when
    found = customer_resolve(merchant=merchant_b, external_id="cust-1")
    missing = customer_resolve(merchant=merchant_b, external_id="cust-2")
    # then
    assert (found, missing) == (ada_b, None)


def test_without_a_resolver_the_event_log_says_which_app_registers_it(merchant_a):
    # given
    resolvers = CustomerResolvers()
    # when / then
    with pytest.raises(ImproperlyConfigured, match=r"the orders app registers it in ready\(\)"):
        resolvers.resolve(merchant=merchant_a, customer_id=1)


def test_a_second_resolver_is_refused_and_the_same_one_again_is_a_no_op():
    # given
    resolvers = CustomerResolvers()
    resolvers.register(customer_find)
    # when
    resolvers.register(customer_find)
    # then
    with pytest.raises(ImproperlyConfigured, match=r"A customer resolver is already registered\."):
        resolvers.register(lambda **_: None)

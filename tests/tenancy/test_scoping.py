import pytest

from orders.models import Customer
from postpurchase.errors import ErrorCode
from postpurchase.tenancy.scoping import (
    NoMerchantInScope,
    current_merchant,
    current_merchant_or_none,
    merchant_scope,
)
from tests.factories import CustomerFactory


def test_scoped_manager_raises_with_no_merchant_set(merchant_a):
    # given
    CustomerFactory(merchant=merchant_a)

    # when / then: every way of reaching the database raises
    unscoped_queries = [
        lambda: list(Customer.objects.all()),
        lambda: Customer.objects.count(),
        lambda: Customer.objects.exists(),
        lambda: Customer.objects.get(email="x@example.net"),
        lambda: list(Customer.objects.values_list("pk", flat=True)),
        # last: these two mark the test's transaction for rollback when they raise
        lambda: Customer.objects.update(first_name="x"),
        lambda: Customer.objects.filter(first_name="y").delete(),
    ]
    for query in unscoped_queries:
        with pytest.raises(NoMerchantInScope) as excinfo:
            query()
        assert excinfo.value.code == ErrorCode.NO_MERCHANT_IN_SCOPE


def test_scoped_manager_sees_only_the_current_merchants_rows(merchant_a, merchant_b):
    # given
    alice = CustomerFactory(merchant=merchant_a, email="alice@example.net")
    bob = CustomerFactory(merchant=merchant_b, email="bob@example.net")

    # when
    with merchant_scope(merchant_a):
        seen_by_a = list(Customer.objects.values_list("email", flat=True))
        get_b_as_a = Customer.objects.filter(pk=bob.pk).exists()
    with merchant_scope(merchant_b):
        seen_by_b = list(Customer.objects.values_list("email", flat=True))

    # then
    assert seen_by_a == [alice.email]
    assert get_b_as_a is False
    assert seen_by_b == [bob.email]


def test_get_of_another_merchants_row_raises_does_not_exist(in_a, merchant_b):
    # given
    bob = CustomerFactory(merchant=merchant_b)

    # when / then
    with pytest.raises(Customer.DoesNotExist):
        Customer.objects.get(pk=bob.pk)


def test_unscoped_manager_is_the_explicit_way_to_see_everything(merchant_a, merchant_b):
    # given
    CustomerFactory(merchant=merchant_a)
    CustomerFactory(merchant=merchant_b)

    # when
    count = Customer.unscoped.count()

    # then
    assert count == 2


def test_scope_is_reset_after_the_block_even_on_error(merchant_a, merchant_b):
    # given
    assert current_merchant_or_none() is None

    # when
    with pytest.raises(RuntimeError), merchant_scope(merchant_a):
        with merchant_scope(merchant_b):
            assert current_merchant() == merchant_b
        assert current_merchant() == merchant_a
        raise RuntimeError("boom")

    # then
    assert current_merchant_or_none() is None


def test_reverse_relations_of_a_scoped_row_stay_in_scope(in_a, merchant_b):
    # given
    from tests.factories import OrderFactory

    order_a = OrderFactory(merchant=in_a)
    OrderFactory(merchant=merchant_b)

    # when
    customer = Customer.objects.get(pk=order_a.customer_id)

    # then
    assert list(customer.orders.all()) == [order_a]

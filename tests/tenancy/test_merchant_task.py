from orders.models import Customer
from postpurchase.tenancy.scoping import current_merchant_or_none, merchant_task
from tests.factories import CustomerFactory


@merchant_task(name="tests.count_customers")
def count_customers(*, merchant_id):
    return Customer.objects.count()


def test_merchant_task_runs_in_its_merchant_scope_and_resets_it(merchant_a, merchant_b):
    # given
    CustomerFactory(merchant=merchant_a)
    CustomerFactory(merchant=merchant_b)
    CustomerFactory(merchant=merchant_b)

    # when
    for_a = count_customers.run(merchant_id=merchant_a.pk)
    for_b = count_customers.apply(kwargs={"merchant_id": merchant_b.pk}).get()

    # then
    assert (for_a, for_b) == (1, 2)
    assert current_merchant_or_none() is None

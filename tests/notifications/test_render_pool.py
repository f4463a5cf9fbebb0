"""The render pool: templates render in processes of their own under a memory and a CPU wall,
the security review's payloads are refused with the render process's memory bounded, a
process that dies is replaced, and nothing renders where no deadline can be armed."""

import multiprocessing
import threading

import billiard
import pytest

from notifications import sandbox
from notifications.render_pool import RenderPool
from notifications.rendering import RenderError, check_source, render_sources, sample_context

MB = 1024 * 1024
# The review's first payload: a date format padded to 250 characters per field, then listed.
WIDE_DATE = "{{ order.placed_at.strftime('%250Y' * 20000)" + " | list" * 30 + " | length }}"
BIG_NUMBER = "{{ ('f' * 100000) | int(base=16) }}"
LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"


@pytest.fixture
def pool():
    made = RenderPool(workers=1, memory_mb=256, cpu_seconds=1)
    yield made
    if made._executor is not None:
        made._executor.shutdown(wait=True, cancel_futures=True)


def one(part: str, source: str) -> tuple[list[tuple[str, bool, str]], dict]:
    return [(source, False, part)], sample_context()


def test_the_reviews_payloads_are_refused_with_the_render_process_memory_bounded(pool):
    # given the two templates the review made render a gigabyte and a 400,000-bit number
    messages = [one("text_body", WIDE_DATE), one("subject", BIG_NUMBER)]

    # when they render in the pool
    wide, big = pool.render(messages)

    # then each is refused, and the process that rendered them stayed far below its limit
    assert (str(wide), str(big)) == (
        "text_body: line 1: not allowed in a template: a date format may hold at most 100 "
        "characters",
        "subject: line 1: not allowed in a template: int reads numbers of at most 1000 digits",
    )
    assert 0 < pool.peak_bytes < 100 * MB


def test_the_reviews_payloads_cannot_be_saved():
    # given / when / then: refused by the checks a save runs, with the line
    assert [str(p) for p in check_source(WIDE_DATE, html=False)] == [
        "line 1: not allowed in a template: a date format may hold at most 100 characters"
    ]
    assert [str(p) for p in check_source(BIG_NUMBER, html=False)] == [
        "line 1: not allowed in a template: int reads numbers of at most 1000 digits"
    ]
    # a format written out in the template is refused even where the sample data never goes
    unreached = "{% if false %}\n{{ order.placed_at.strftime('%250Y') }}{% endif %}"
    assert [str(p) for p in check_source(unreached, html=False)] == [
        "line 2: not allowed in a template: date formats take no field widths or flags ('%250Y')"
    ]


def test_a_render_past_its_cpu_time_is_stopped_and_the_pool_replaced(pool, monkeypatch):
    # given a render whose SIGALRM deadline is far away: only the CPU limit (1 s) can stop it
    monkeypatch.setattr(sandbox, "RENDER_SECONDS", 120)

    # when it renders beside a good message
    spin, good = pool.render(
        [one("html_body", LOOPS), one("subject", "Hi {{ customer.first_name }}")]
    )

    # then the kernel stopped it, the other message rendered, and the pool renders again
    assert str(spin) == (
        "html_body: not allowed in a template: the render was stopped: it needed more than "
        "256 MB of memory or 1 s of CPU time"
    )
    assert good == ["Hi Ada"]
    assert pool.render([one("subject", "{{ order.number }}")]) == [["#1001"]]


def test_a_render_past_its_memory_fails_alone(monkeypatch):
    # given a pool of 64 MB per process and a template that holds 1,000 values of 50,000
    # characters (50 MB; each value is within the sandbox's size limit)
    pool = RenderPool(workers=1, memory_mb=64, cpu_seconds=5)
    hoard = (
        "{% set a = 'x' * 50000 %}{{ ["
        + ", ".join(f"a ~ {i}" for i in range(1000))
        + "] | length }}"
    )

    # when it renders between two good messages
    try:
        first, hog, last = pool.render(
            [one("subject", "{{ order.total }}"), one("text_body", hoard), one("subject", "ok")]
        )
        peak = pool.peak_bytes
    finally:
        pool._executor.shutdown(wait=True, cancel_futures=True)

    # then it alone fails, and the process never held more than its limit
    assert (first, last) == (["95.00"], ["ok"])
    assert isinstance(hog, RenderError)
    assert str(hog) in (
        "text_body: line 1: not allowed in a template: it needs more memory than a render may use",
        "text_body: not allowed in a template: the render was stopped: it needed more than "
        "64 MB of memory or 5 s of CPU time",
    )
    assert 0 < peak < 64 * MB


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ order.placed_at.strftime('%-d %B %Y, %H:%M') }}", None),
        (
            "{{ order.placed_at.strftime('%_d') }}",
            "date formats take no field widths or flags ('%_d')",
        ),
        (
            "{{ order.placed_at.strftime('%010d') }}",
            "date formats take no field widths or flags ('%010d')",
        ),
        ("{{ order.placed_at.strftime('%Q') }}", "'%Q' is not a date directive a template may use"),
        (
            "{{ order.placed_at['strftime']('%9Y') }}",
            "date formats take no field widths or flags ('%9Y')",
        ),
        (
            "{% set f = order.placed_at.strftime %}{{ f('%' ~ '300Y') }}",
            "date formats take no field widths or flags ('%300Y')",
        ),
        ("{{ ('ab' * 30000) | list | length }}", "a list would be larger than 100,000 characters"),
        (
            "{{ range(100000) | map('replace', '', 'x' * 10000) | join | length }}",
            "what map makes would be larger than 100,000 characters",
        ),
        (
            "{{ range(100000) | select('odd') | map('string') | map('replace', '', 'y' * 5000)"
            " | list | length }}",
            "what map makes would be larger than 100,000 characters",
        ),
        ("{{ ('9' * 1001) | int }}", "int reads numbers of at most 1000 digits"),
        ("{{ ('z' * 1000) | int(base=36) | string | length }}", "numbers are limited to 4096 bits"),
        ("{{ 'ff' | int(base=16) }}", None),
    ],
)
def test_value_building_filters_and_date_formats_are_bounded(source, message):
    problems = [p.message for p in check_source(source, html=False)]
    assert problems == ([] if message is None else [f"not allowed in a template: {message}"])


def test_nothing_renders_where_no_deadline_can_be_armed():
    # given a thread other than the main one (a threaded server's request)
    template = sandbox.compiled("{{ customer.first_name }}", html=False)
    found = {}

    def in_a_thread():
        try:
            sandbox.render(template, sample_context())
        except sandbox.DeadlineUnavailable as error:
            found["here"] = str(error)
        found["pool"] = render_sources(
            [("{{ customer.first_name }}", False, "subject")], sample_context()
        )

    # when it renders in-process, and through the pool
    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()

    # then in-process is refused; the pool renders in its own process's main thread
    assert found == {
        "here": "a template is rendered only where its time limit can be armed (a main thread)",
        "pool": ["Ada"],
    }


def test_a_save_with_the_reviews_payload_is_refused_naming_the_field(merchant_a):
    from notifications.models import MessageTemplate
    from notifications.services import message_template_save
    from postpurchase.errors import DomainError

    # given
    payload = {
        "key": "wide",
        "name": "Wide",
        "channel": "email",
        "category": "transactional",
        "variants": [{"locale": "en", "subject": "Hi", "html_body": f"<p>Hi</p>\n{WIDE_DATE}"}],
    }

    # when
    with pytest.raises(DomainError) as caught:
        message_template_save(merchant=merchant_a, payload=payload)

    # then: nothing written
    assert caught.value.message == (
        "variants[0].html_body: line 2: not allowed in a template: a date format may hold at "
        "most 100 characters"
    )
    assert MessageTemplate.unscoped.filter(merchant=merchant_a).count() == 0


def _render_in_this_process(pipe) -> None:
    made = RenderPool(workers=1, memory_mb=256, cpu_seconds=1)
    try:
        [result] = made.render([one("subject", "Hi {{ customer.first_name }}")])
        pipe.send(str(result) if isinstance(result, RenderError) else result)
    except Exception as error:
        pipe.send(f"{type(error).__name__}: {error}")
    finally:
        if made._executor is not None:
            made._executor.shutdown(wait=True)


@pytest.mark.parametrize("maker", ["multiprocessing", "billiard"])
def test_a_daemonic_process_renders_as_a_celery_prefork_child_does(maker):
    # given: Celery's prefork pool runs tasks in daemonic billiard processes, which
    # multiprocessing forbids to start children of their own, and whose key it cannot pickle
    context = multiprocessing.get_context("fork") if maker == "multiprocessing" else billiard
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    child = context.Process(target=_render_in_this_process, args=(theirs,), daemon=True)

    # when the daemonic process renders through a render pool of its own
    child.start()
    answered = ours.poll(60)
    child.join(60)

    # then it renders
    assert answered
    assert ours.recv() == ["Hi Ada"]
    # (its exit code is not asserted: a billiard child forked from this test process runs the
    # exit handlers of the executors the test process made before, which it does not have)

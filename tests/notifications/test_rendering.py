"""Merchant templates in the sandbox: checked on save with lines and names, no escape from the
sandbox, HTML escaped, plain text made from HTML, SMS segments counted as carriers bill them."""

import pytest

from notifications.rendering import (
    VARIABLES,
    RenderError,
    check_source,
    html_to_text,
    render_source,
    sample_context,
    sms_segments,
    variables,
)


def messages(source, *, html=False):
    return [str(problem) for problem in check_source(source, html=html)]


def test_a_template_using_the_documented_variables_passes():
    source = (
        "Hi {{ customer.first_name }}, order {{ order.number }} ({{ order.total }} "
        "{{ order.currency }}):\n{% for line in order.lines %}- {{ line.quantity }} × "
        "{{ line.title }} ({{ line.product.category }})\n{% endfor %}"
        "Track: {{ tracking_url }} {{ shipment.estimated_delivery.strftime('%b %d') }}"
    )
    assert messages(source) == []
    assert render_source(source, sample_context(), html=False, part="text_body") == (
        "Hi Ada, order #1001 (95.00 USD):\n- 2 × Trail running shoe (footwear)\n"
        "- 1 × Merino socks (apparel)\nTrack: https://t.example/s/demo/t/abc Mar 05"
    )


def test_syntax_errors_name_their_line():
    assert messages("Hello\n{{ customer.first_name }\nBye") == [
        "line 2: syntax error: unexpected '}'"
    ]
    assert messages("{% for line in order.lines %}\n{{ line.title }}\n") == [
        "line 2: syntax error: Unexpected end of template. Jinja was looking for the following "
        "tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'."
    ]


def test_unknown_variables_are_named_with_their_line():
    assert messages("Hi {{ custmer.first_name }}\n{{ orders }} {{ customer.email }}") == [
        "line 1: unknown variable 'custmer'",
        "line 2: unknown variable 'orders'",
    ]
    assert messages("Hi\n{{ order.totl }}") == ["line 2: unknown variable 'order.totl'"]
    assert messages("{% for line in order.lines %}\n{{ line.product.colour }}{% endfor %}") == [
        "line 2: unknown variable 'line.product.colour'"
    ]
    # A variable the template defines itself is not unknown.
    assert messages("{% set n = order.lines | length %}{{ n }} items") == []


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ customer.__class__ }}",
        "{{ order.lines.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(customer) }}",
        "{{ order.lines.append(1) }}",
        "{{ customer.update({'email': 'x'}) }}",
        "{% for i in range(10**9) %}{% endfor %}",
        "{{ 'a' * 1000000 }}",
        "{{ [1, 2] * 60000 }}",
        "{{ 9 ** 999999 }}",
        "{{ ('x' * 1000) | replace('', 'y' * 1000) | length }}",
        "{{ '%999999999s' % 'a' }}",
        # Found in review: each of these allocated a gigabyte or ran for seconds before.
        '{{ "x".ljust(1000000000) | length }}',
        '{{ "x".zfill(1000000000) | length }}',
        '{{ "{:>1000000000}".format(1) }}',
        '{{ ("x" * 10000).replace("x", "y" * 100000) | length }}',
        '{{ ("x" * 10000) | replace("x", "y" * 100000, -1) | length }}',
        '{{ (["y" * 100000] * 10000) | join | length }}',
        '{{ range(10000) | join("y" * 100000) | length }}',
        '{{ (["y" * 1000] * 1000) | length }}',
        "{% set a = 'x' * 60000 %}{% set a = a ~ a %}{{ a | length }}",
        "{% set a = 'x' * 60000 %}{% set a = a + a %}{{ a | length }}",
        "{{ ([[1] * 100] * 10000) | sum(start=[]) | length }}",
        "{{ dict.update(customer, first_name='Eve') }}",
        "{{ dict.clear(merchant) }}",
        "{{ cycler.reset(customer) }}",
        "{% set n = 10 ** 60 %}{% set m = n * n * n * n * n * n * n * n %}{{ m * m * m * m * m }}",
    ],
)
def test_sandbox_escapes_are_refused_on_save(source):
    [problem] = check_source(source, html=False)
    # Refused as unsafe, or not there at all (``dict`` and ``cycler`` are plain functions).
    assert problem.message.startswith(("not allowed in a template: ", "unknown variable '")), (
        problem
    )
    assert problem.line == 1


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'a' | center(1000000000) }}", "syntax error: No filter named 'center'."),
        ("{{ customer.first_name | safe }}", "syntax error: No filter named 'safe'."),
        ("{{ order.lines | batch(1000000000, 'x') }}", "syntax error: No filter named 'batch'."),
        ("{{ lipsum(1000000) }}", "unknown variable 'lipsum'"),
        ("{% set ns = namespace(s='a') %}", "unknown variable 'namespace'"),
    ],
)
def test_filters_and_globals_that_build_values_of_any_size_do_not_exist(source, message):
    assert messages(source) == [f"line 1: {message}"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "macros are not available"),
        ("{% block b %}{{ self.b() }}{% endblock %}", "blocks are not available"),
        (
            "{% for s in ['x'] recursive %}{{ loop([s ~ s]) }}{% endfor %}",
            "recursive loops are not available",
        ),
        ("{% include 'other.html' %}", "templates cannot include other templates"),
        ("{% extends 'base.html' %}", "templates cannot extend other templates"),
        (
            "{% autoescape false %}{{ customer.first_name }}{% endautoescape %}",
            "autoescape cannot be changed",
        ),
    ],
)
def test_constructs_a_message_does_not_need_are_refused_with_their_line(source, message):
    assert messages(source, html=True) == [f"line 1: not allowed in a template: {message}"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ cycler() }}", "not allowed in a template: cycler needs at least one value"),
        (
            "{{ '\x00' }}",
            "not allowed in a template: the rendered text holds a NUL character,"
            " which cannot be stored",
        ),
        (
            "{{ dict(customer) }}",
            "cannot be rendered: _dict() takes 0 positional arguments but 1 was given",
        ),
    ],
)
def test_a_template_that_raises_anything_is_reported_never_a_crash(source, message):
    assert [m.removeprefix("line 1: ") for m in messages(source)] == [message]


def test_a_template_cannot_change_the_callers_context():
    context = sample_context()
    source = "{% set c = dict(a=1) %}{{ c.a }} {{ customer.first_name | replace('A', 'E') }}"
    assert render_source(source, context, html=False, part="text_body") == "1 Eda"
    assert context == sample_context()


def test_replace_never_unescapes_html():
    context = sample_context()
    context["customer"]["first_name"] = "a&b <i>"
    source = "{{ customer.first_name | replace('a', 'c') | replace('<', '[') }}"
    assert render_source(source, context, html=True, part="html_body") == "c&amp;b [i&gt;"
    escaped = "{{ customer.first_name | e | replace('<', '<b>') }}"
    assert render_source(escaped, context, html=True, part="html_body") == "a&amp;b &lt;i&gt;"


def test_allowed_methods_and_data_still_work():
    source = (
        "{{ customer.first_name.upper() }} {{ order.placed_at.strftime('%Y') }} "
        "{{ customer.get('email') }} {% for line in order.lines %}{{ loop.index }}"
        "{{ loop.cycle('a', 'b') }}{% endfor %} {{ order.lines | sum(attribute='quantity') }} "
        "{{ order.lines | join(', ', attribute='title') }}"
    )
    assert render_source(source, sample_context(), html=False, part="text_body") == (
        "ADA 2026 ada@example.com 1a2b 3 Trail running shoe, Merino socks"
    )


def test_a_render_that_runs_too_long_is_stopped(monkeypatch):
    from notifications import sandbox

    monkeypatch.setattr(sandbox, "RENDER_SECONDS", 0.2)
    source = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    assert messages(source) == [
        "line 1: not allowed in a template: the template took longer than 0.2 s to render"
    ]


def test_a_timer_set_by_someone_else_survives_a_render():
    import signal

    def outer(signum, frame):
        raise AssertionError("the outer timer fired during the test")

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        assert messages("{{ customer.first_name }}") == []
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < left <= 30
        assert signal.getsignal(signal.SIGALRM) is outer
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_html_parts_are_escaped_and_text_parts_are_not():
    context = sample_context()
    context["customer"]["first_name"] = "<script>alert(1)</script> & Co"
    source = "<p>Hi {{ customer.first_name }}</p>"
    assert render_source(source, context, html=True, part="html_body") == (
        "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</p>"
    )
    assert render_source("Hi {{ customer.first_name }}", context, html=False, part="subject") == (
        "Hi <script>alert(1)</script> & Co"
    )


def test_a_context_with_anything_but_plain_data_is_refused():
    class Customer:
        first_name = "Ada"

    context = {**sample_context(), "customer": Customer()}
    with pytest.raises(TypeError, match=r"context\.customer is a Customer"):
        render_source("{{ customer.first_name }}", context, html=False, part="subject")


def test_missing_real_data_is_a_render_error_naming_the_part_and_line():
    context = sample_context()
    del context["shipment"]
    with pytest.raises(RenderError) as caught:
        render_source("Hi\n{{ shipment.carrier }}", context, html=False, part="text_body")
    assert str(caught.value) == (
        "text_body: line 2: unknown variable 'shipment': this message has no value for it"
    )


def test_text_is_made_from_html_with_links_written_out():
    html = (
        "<html><head><style>p { color: red }</style></head><body><h1>Hi Ada</h1>"
        '<p>Your order <b>#1001</b> is on its way.</p><p><a href="https://t.example/x">'
        "Track it</a></p></body></html>"
    )
    assert html_to_text(html) == (
        "Hi Ada\n\nYour order #1001 is on its way.\n\n[Track it](https://t.example/x)\n"
    )


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the extension table costs two septets each
        ("[" + "a" * 159, "GSM-7", 161, 2),
        ("Ç é ñ ü ß Δ", "GSM-7", 11, 1),  # in the default alphabet
        ("ç" + "a" * 69, "UCS-2", 70, 1),  # lower-case ç is not: UCS-2
        ("ç" + "a" * 70, "UCS-2", 71, 2),
        ("Thanks 😀" + "a" * 62, "UCS-2", 71, 2),  # an emoji is two UTF-16 units
        ("ş" * 134, "UCS-2", 134, 2),
        ("ş" * 135, "UCS-2", 135, 3),
    ],
)
def test_sms_segments_follow_gsm_and_ucs2_limits(text, encoding, units, segments):
    found = sms_segments(text)
    assert (found.encoding, found.units, found.segments) == (encoding, units, segments)


def test_sms_warnings_say_why():
    assert sms_segments("Your parcel is out for delivery").warning is None
    assert sms_segments("a" * 200).warning == "This message is sent as 2 segments, each billed."
    assert sms_segments("Merci ç 😀").warning == (
        "Characters outside the GSM alphabet (ç😀) make this message UCS-2: 70 characters per "
        "segment instead of 153-160."
    )


def test_every_variable_is_documented_with_a_sample():
    assert set(VARIABLES) == {
        "customer",
        "order",
        "shipment",
        "merchant",
        "brand",
        "tracking_url",
        "return_url",
        "survey_url",
        "loyalty_url",
        "preferences_url",
        "unsubscribe_url",
    }
    assert all(description and sample is not None for description, sample in VARIABLES.values())


def test_the_template_guide_documents_every_variable():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "templates.md").read_text()
    rows = {line.split("`")[1] for line in guide.splitlines() if line.startswith("| `")}
    assert rows == set(variables())  # the features' too (package protection's claim)
    assert set(variables()) - set(VARIABLES) == {"claim"}


def test_time_limits_nest_and_leave_no_timer_behind():
    import signal

    from notifications.sandbox import RenderTimeout, time_limit

    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(RenderTimeout), time_limit(0.2), time_limit(5):
        while True:  # the outer limit ends it, through the inner one
            pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


def test_a_save_whose_checks_run_too_long_is_refused(monkeypatch, merchant_a):
    from notifications import sandbox, services
    from postpurchase.errors import DomainError

    monkeypatch.setattr(sandbox, "RENDER_SECONDS", 0.3)
    monkeypatch.setattr(sandbox, "SAVE_SECONDS", 0.5)
    slow = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    payload = {
        "key": "slow",
        "name": "Slow",
        "channel": "sms",
        "category": "transactional",
        "default_locale": "en",
        "variants": [{"locale": f"en-x{i:02d}", "sms_body": slow} for i in range(10)]
        + [{"locale": "en", "sms_body": "ok"}],
    }
    started = __import__("time").monotonic()
    with pytest.raises(DomainError) as caught:
        services.message_template_save(merchant=merchant_a, payload=payload)
    assert __import__("time").monotonic() - started < 2.5
    assert "took longer than" in caught.value.message

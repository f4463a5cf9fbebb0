"""The interactive API docs render in a real browser from our own static files alone."""

from urllib.parse import urlparse


def test_the_api_docs_render_with_no_request_leaving_the_site(live_server, page):
    # given: every request the page makes is recorded
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    # when
    page.goto(live_server.url + "/api/v1/docs/")
    page.locator(".opblock-summary-path[data-path='/api/v1/orders/bulk']").wait_for()

    # then
    site = urlparse(live_server.url).netloc
    outside = [url for url in requested if urlparse(url).netloc not in (site, "")]
    assert outside == []
    assert any(url.endswith("/api/v1/schema/") for url in requested)

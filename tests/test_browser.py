"""A real browser on every layer x model and on the framework apps: headless Chromium (Debian's), driven by Playwright.

What a person sees when they open the server: the page, its image, its stylesheet,
and the guestbook form, whose message comes back HTML-escaped after the redirect.
On a layer, the browser's own requests must then show up in --access-log (the framework
apps' servers log in their own format, or not at all: theirs is not this project's log). One browser per
module and worker; a fresh context (no shared cache or cookies) per test; one
test per variant, its steps in the order a visitor takes them.
On failure, a screenshot goes to test-artifacts/browser/VARIANT.png.
"""

import re
import secrets

import pytest

pytest_plugins = ["browser_helpers"]  # its report hook tells the page fixture that a test failed
pytest.register_assert_rewrite("browser_helpers")  # imported below, before pytest loads it as a plugin

from browser_helpers import ARTIFACTS, CHROMIUM_ARGS, failed, require_chromium  # noqa: E402
from helpers import wait_for  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

TIMEOUT_MS = 15_000  # per Playwright action; a healthy page takes milliseconds
H1_COLOR = "rgb(52, 101, 164)"  # webapp/static/style.css, h1
CLF = re.compile(r'^\S+ - - \[[^\]]+\] "([^"]*)" (\d{3}) (?:\d+|-)$', re.M)
# Chromium fetches the stylesheet and the image on two connections while the first
# stays open; an iterative server reaches the second only when the first idles out.
# With the default 5 s, each iterative page load would take 5 s.
KEEPALIVE_S = "1"


@pytest.fixture(scope="module")
def browser():
    executable = require_chromium()
    with sync_playwright() as playwright:
        # launch() gives every browser a fresh, temporary user-data-dir
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(variant, start_server):
    """One server per variant, logging every request, for the browser to visit."""
    with start_server(variant, "--access-log", "--keepalive-timeout", KEEPALIVE_S) as running:
        yield running


@pytest.fixture
def page(browser, request):
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    if failed(request.node):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            tab.screenshot(path=ARTIFACTS / f"{request.node.callspec.id}.png", full_page=True)
        except Exception as error:  # a crashed tab: the test's own failure is what matters
            print(f"no screenshot: {error}")
    context.close()


def test_a_visit_in_a_real_browser(site, page):
    visit(page, site.origin)
    # 5. the browser's own requests are in --access-log
    expected = {
        ("GET / HTTP/1.1", "200"),
        ("GET /test.jpg HTTP/1.1", "200"),
        ("GET /static/style.css HTTP/1.1", "200"),
        ("POST /messages HTTP/1.1", "303"),
    }

    def missing():
        return expected - set(CLF.findall(site.stderr()))

    wait_for(lambda: not missing())  # a layer may log just after sending
    assert not missing(), f"not logged: {missing()}\n{site.stderr()[-3000:]}"


def test_a_visit_on_a_framework(framework_server, page):
    """The tutorial's last rung in the same browser: the page, its image, the stylesheet and the form."""
    visit(page, framework_server.origin)


def visit(page, origin: str) -> None:
    """What a visitor does and sees: steps 1 to 4."""
    # 1. the page loads: title and heading
    response = page.goto(origin + "/")  # waits for `load`: the stylesheet and the image are in
    assert response is not None and response.status == 200
    assert page.title() == "Wow, Python Server"
    heading = page.locator("h1")
    assert heading.is_visible() and heading.inner_text() == "Wow, Python Server"
    # 2. the image is fetched and decoded
    image = page.evaluate("(img => [img.complete, img.naturalWidth, img.src])(document.querySelector('img'))")
    assert image[0] and image[1] > 0 and image[2] == origin + "/test.jpg", f"the image did not render: {image}"
    # 3. /static/style.css applies
    assert heading.evaluate("h1 => getComputedStyle(h1).color") == H1_COLOR, "/static/style.css was not applied"
    # 4. the form: a message comes back after the 303, as text, not as HTML
    text = f'<b>bold & "quoted"</b> ünïcode {secrets.token_hex(4)}'
    page.fill("input[name=text]", text)
    with page.expect_navigation():
        page.click("form button")
    assert page.url == origin + "/"
    assert page.locator("ol.messages li .text").first.inner_text() == text, "not the newest message"
    assert text in page.locator("body").inner_text()
    assert page.locator("ol.messages b").count() == 0, "the message was rendered as HTML"

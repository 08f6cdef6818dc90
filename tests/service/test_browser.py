"""The pages in a real headless Chromium (Debian's ``chromium``, driven by Playwright's Python API; no browser is
downloaded): an advisor approves a proposal and finds it in the audit timeline; a client runs a what-if and is
refused another household's page. Screenshots of the main pages are saved (``ROBO_SCREENSHOTS`` or the test's
temporary folder). Skips, with the reason, when Playwright or Chromium is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.conftest import PASSWORD

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt install chromium)")


@pytest.fixture
def server(app) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("ROBO_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _sign_in(page, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#user", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_advisor_approves_and_sees_it_in_the_audit(server, browser, shots, store) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, server, "alex")
    page.wait_for_url(re.compile(r".*/queue"))
    page.screenshot(path=str(shots / "queue.png"), full_page=True)
    page.click("a[href='/proposals/p-rivera']")
    page.wait_for_url(re.compile(r".*/proposals/p-rivera"))
    explanation = page.inner_text("#explanation")
    assert store.proposals.get("p-rivera").explanation[0][:40] in explanation
    page.screenshot(path=str(shots / "proposal.png"), full_page=True)
    page.fill("#approve-reason", "tax cost is fine")
    page.click("#approve")
    page.wait_for_url(re.compile(r".*done=approved"))
    assert page.inner_text("#status") == "approved"
    page.goto(f"{server}/audit?household=rivera")
    rows = page.locator("tr.audit-entry").all_inner_texts()
    assert any("alex" in r and "proposal.transition" in r and "approved" in r for r in rows)
    page.screenshot(path=str(shots / "audit.png"), full_page=True)


def test_client_what_if_changes_the_probability_and_other_households_are_404(server, browser, shots) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    _sign_in(page, server, "rosa")
    page.wait_for_url(re.compile(r".*/households/rivera"))
    before = page.inner_text("strong.probability[data-goal='retirement']")
    fan = page.locator("svg.fan#fan-retirement")
    assert fan.is_visible() and fan.bounding_box()["width"] <= 390  # drawn inside the phone's width
    page.screenshot(path=str(shots / "household-phone.png"), full_page=True)
    page.fill("#whatif", "save-more=3000")
    page.click("#what-if-form button[type=submit], form[action='/households/rivera'] button")
    page.wait_for_selector("#what-if-result")
    after = page.inner_text(".after-probability[data-goal='retirement']")
    assert int(after.rstrip("%")) > int(before.rstrip("%"))
    page.screenshot(path=str(shots / "what-if-phone.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "the page scrolls sideways on a phone"  # tables scroll inside their own box
    response = page.goto(f"{server}/households/smith")
    assert response is not None and response.status == 404
    assert "Smith" not in page.content()


def test_proposal_page_with_its_holdings_chart_fits_a_phone(server, browser, shots) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _sign_in(page, server, "alex")
    page.wait_for_url(re.compile(r".*/queue"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # the queue too
    page.goto(f"{server}/proposals/p-rivera")
    charts = page.locator("svg.holdings")
    assert charts.count() >= 2 and charts.first.is_visible()
    assert "now, target" in (charts.first.locator("desc").text_content() or "")
    # Chromium's accessibility tree names each chart from its <title> (role=img, aria-labelledby)
    named = page.get_by_role("img", name=re.compile(r"held now vs target"))
    assert named.count() == charts.count()
    page.screenshot(path=str(shots / "proposal-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1, "the page scrolls sideways on a phone"

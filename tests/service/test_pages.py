"""The server-rendered pages through the real app: sign in, queue, proposal, decide with CSRF, household, audit.

CSRF rules follow the OWASP CSRF Prevention Cheat Sheet: a per-session token in every state-changing form
(here an HMAC of the session cookie) plus a same-origin check of ``Origin``; the cookie is HttpOnly, SameSite=Lax.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import PASSWORD


def sign_in(client: TestClient, user: str, password: str = PASSWORD, next_page: str = "/") -> object:
    return client.post("/login", data={"user": user, "password": password, "next": next_page},
                       follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "every signed-in page carries the session's CSRF token"
    return found.group(1)


def test_pages_need_a_session(client) -> None:
    for path in ("/", "/queue", "/households/rivera", "/proposals/p-rivera", "/audit"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_wrong_password_says_nothing_about_which_part(client) -> None:
    wrong = sign_in(client, "alex", "not the password")
    nobody = sign_in(client, "nobody", "not the password")
    assert wrong.status_code == nobody.status_code == 401
    assert "Wrong user name or password" in wrong.text and "Wrong user name or password" in nobody.text
    assert "robo_session" not in wrong.headers.get("set-cookie", "")


def test_session_cookie_is_httponly_and_samesite(client) -> None:
    r = sign_in(client, "alex", next_page="/queue")
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert sign_in(client, "alex", next_page="https://evil.example/").headers["location"] == "/"  # no open redirect


def test_advisor_reviews_and_approves_a_proposal(client, store) -> None:
    sign_in(client, "alex")
    queue = client.get("/queue")
    assert queue.status_code == 200 and "p-rivera" in queue.text and "p-smith" not in queue.text
    page = client.get("/proposals/p-rivera")
    assert page.status_code == 200
    first_line = store.proposals.get("p-rivera").explanation[0]
    assert first_line.split("(")[0].strip() in page.text  # the explanation in plain words
    assert "Tax preview" in page.text and "Estimated tax change" in page.text
    token = csrf_of(page.text)
    refused = client.post("/proposals/p-rivera/approve", data={"reason": "ok"}, follow_redirects=False)
    assert refused.status_code == 403 and store.proposals.get("p-rivera").status.value == "proposed"
    forged = client.post("/proposals/p-rivera/approve", data={"reason": "ok", "csrf": token},
                         headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403 and store.proposals.get("p-rivera").status.value == "proposed"
    done = client.post("/proposals/p-rivera/approve", data={"reason": "looks right", "csrf": token},
                       follow_redirects=False)
    assert done.status_code == 303 and store.proposals.get("p-rivera").status.value == "approved"
    audit = client.get("/audit?household=rivera")
    assert re.search(r"<td>alex</td>\s*<td>proposal.transition", audit.text)


def test_reject_form_needs_a_reason(client, store) -> None:
    sign_in(client, "alex")
    token = csrf_of(client.get("/proposals/p-rivera").text)
    r = client.post("/proposals/p-rivera/reject", data={"reason": "", "csrf": token})
    assert r.status_code == 422 and "rejection needs a reason" in r.text
    assert store.proposals.get("p-rivera").status.value == "proposed"


def test_client_household_page_and_what_if(client) -> None:
    sign_in(client, "rosa")
    home = client.get("/")
    assert home.url.path == "/households/rivera"
    assert "Retirement" in home.text and 'class="probability"' in home.text
    assert "Unrealized gain" in home.text and "Record a life event" in home.text
    assert "Approval queue" not in home.text  # a client has no queue
    scenario = client.get("/households/rivera", params={"whatif": "save-more=2000"})
    assert scenario.status_code == 200 and 'id="what-if-result"' in scenario.text
    bad = client.get("/households/rivera", params={"whatif": "win-lottery=1"})
    assert bad.status_code == 200 and "unknown what-if" in bad.text


def test_client_records_a_life_event(client, store) -> None:
    sign_in(client, "rosa")
    token = csrf_of(client.get("/households/rivera").text)
    r = client.post("/households/rivera/events", data={"kind": "inheritance", "on": "2026-07-30",
                                                       "amount": "$40,000", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert any(e.kind.value == "inheritance" and e.applied for e in store.households.get("rivera").events)


@pytest.mark.parametrize("path", ["/households/smith", "/proposals/p-smith", "/audit?household=smith"])
def test_client_gets_404_for_another_household(client, path) -> None:
    sign_in(client, "rosa")
    hidden = client.get(path)
    missing = client.get(path.replace("smith", "nobody"))
    assert hidden.status_code == missing.status_code == 404
    assert "Smith" not in hidden.text


def test_client_cannot_approve_where_the_firm_forbids(client, store) -> None:
    sign_in(client, "sam")
    page = client.get("/proposals/p-smith")
    assert page.status_code == 200 and 'id="approve"' not in page.text
    r = client.post("/proposals/p-smith/approve", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 403 and store.proposals.get("p-smith").status.value == "proposed"


def test_sign_out_ends_the_session(client) -> None:
    sign_in(client, "alex")
    token = csrf_of(client.get("/queue").text)
    cookie = client.cookies.get("robo_session")
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 303
    client.cookies.set("robo_session", cookie)  # a copied cookie is dead too: the session was revoked in the store
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_pages_fit_a_phone(client) -> None:
    sign_in(client, "alex")
    html = client.get("/queue").text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    css = client.get("/static/style.css").text
    assert "@media (max-width: 40rem)" in css and "overflow-x: auto" in css


def test_a_bad_form_field_is_an_error_page_not_json(client) -> None:
    sign_in(client, "rosa")
    token = csrf_of(client.get("/households/rivera").text)
    r = client.post("/households/rivera/events", data={"kind": "child", "on": "2026-02-30", "csrf": token})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html") and "Field: on" in r.text

"""Server-rendered pages (Jinja2, no JavaScript build): sign in, the approval queue, a proposal, a household, audit.

    GET  /login            sign in (user name + password → a session cookie, HttpOnly, SameSite=Lax)
    GET  /queue            proposals awaiting a decision across the households you may see
    GET  /proposals/{id}   orders per account, tax preview, explanation, approve/reject/execute forms
    GET  /households/{id}  goals with probabilities, what-if, life events, accounts and lots with unrealized gains
    GET  /audit            the audit timeline

Every form POST carries the session's CSRF token (an HMAC of the session cookie) and a same-origin check.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from engine.errors import EngineError, ValidationError
from engine.model import LifeEvent, LifeEventKind, ProposalStatus
from engine.store import Role, TokenKind
from service.auth import (
    SESSION_HOURS,
    Action,
    Forbidden,
    Principal,
    SignInLimit,
    Unauthenticated,
    authenticate_password,
    authenticate_token,
    csrf_token,
    issue_token,
    verify_csrf,
)
from service.charts import HoldingRow, fan_chart, holdings_chart
from service.context import ServiceContext
from service.errors import error_body
from service.planning import household_what_if
from service.views import (
    audit_for,
    household_out,
    household_plan_out,
    household_summaries,
    lots_out,
    proposal_detail,
    queue,
)

__all__ = ["COOKIE", "error_page", "router"]

COOKIE = "robo_session"
PAGE = 50
"""Rows per page of the queue and the household list."""
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
router = APIRouter(include_in_schema=False)


def _money(value: Any) -> str:
    if value is None:
        return "—"
    d = Decimal(str(value))
    sign = "−" if d < 0 else ""
    return f"{sign}${abs(d):,.2f}"


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):.0%}"


templates.env.filters["money"] = _money
templates.env.filters["pct"] = _pct


def _ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


def page_principal(request: Request) -> Principal:
    """The signed-in user of a browser session (the cookie); none → redirected to /login."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise Unauthenticated("sign in")
    who = authenticate_token(_ctx(request).store, token, kind=TokenKind.SESSION)
    request.state.principal = who
    return who


Who = Annotated[Principal, Depends(page_principal)]


def _render(request: Request, name: str, who: Principal | None, code: int = 200, **values: Any) -> HTMLResponse:
    token = request.cookies.get(COOKIE)
    values.update(who=who, csrf=csrf_token(token) if token and who else "", today=date.today())
    return templates.TemplateResponse(request, name, values, status_code=code)


def _check_form(request: Request, csrf: str | None) -> None:
    """A form POST must come from our own pages: same origin (when the browser says) and the session's CSRF token."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlparse(origin).netloc not in ("", request.url.netloc):
        raise Forbidden("cross-site form refused")
    token = request.cookies.get(COOKIE)
    if not token or not verify_csrf(token, csrf):
        raise Forbidden("the form expired or did not come from this site; reload the page and try again")


def error_page(request: Request, exc: Exception, status: int) -> HTMLResponse:
    """An engine or permission error as a page (same words as the API's JSON)."""
    who = getattr(request.state, "principal", None)
    return _render(request, "error.html", who, code=status, error=error_body(exc)["error"], status_code=status)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# ---------------------------------------------------------------------------------------------
# Sign in and out
# ---------------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _render(request, "login.html", None, next=_safe_next(next), failed=False)


@router.post("/login")
def login(request: Request, user: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/") -> Response:
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.url.netloc:
        raise Forbidden("cross-site sign-in refused")
    ctx = _ctx(request)
    limit: SignInLimit = request.app.state.sign_in_limit
    address = request.client.host if request.client else "unknown"
    wait = limit.retry_after(ctx.store, user, address)
    if wait is not None:  # locked: the password is not even checked
        response = _render(request, "login.html", None, code=429, next=_safe_next(next), failed=False, user=user,
                           locked_minutes=max(1, -(-wait // 60)))
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        person = authenticate_password(ctx.store, user, password)
    except Unauthenticated:
        limit.failed(ctx.store, user, address)
        return _render(request, "login.html", None, code=401, next=_safe_next(next), failed=True, user=user)
    token = issue_token(ctx.store, person.id, name=request.headers.get("user-agent", "browser")[:120],
                        kind=TokenKind.SESSION)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="lax",
                        secure=request.app.state.secure_cookies, path="/")
    return response


@router.post("/logout")
def logout(request: Request, who: Who, csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_form(request, csrf)
    _ctx(request).store.users.revoke_token(who.token, actor=who.actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, who: Who) -> Response:
    if who.role is Role.CLIENT and who.households is not None and len(who.households) == 1:
        return RedirectResponse(f"/households/{quote(next(iter(who.households)))}", status_code=303)
    if who.role is Role.CLIENT:
        return RedirectResponse("/households", status_code=303)
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, who: Who, status: str = "proposed", household: str | None = None,
               page: int = 1) -> HTMLResponse:
    chosen = None if status == "all" else ProposalStatus(status) if status in set(ProposalStatus) else None
    if status != "all" and chosen is None:
        raise ValidationError("unknown status", field="status", value=status,
                              fix=f"use all or one of: {', '.join(s.value for s in ProposalStatus)}")
    page = max(page, 1)
    rows, total = queue(_ctx(request), who, chosen, household or None, limit=PAGE, offset=(page - 1) * PAGE,
                        newest_first=True)
    return _render(request, "queue.html", who, rows=rows, total=total, page=page, pages=max(1, -(-total // PAGE)),
                   status=status, statuses=["all", *[s.value for s in ProposalStatus]], household=household or "")


@router.get("/households", response_class=HTMLResponse)
def households_page(request: Request, who: Who, page: int = 1) -> HTMLResponse:
    page = max(page, 1)
    rows = household_summaries(_ctx(request), who, limit=PAGE + 1, offset=(page - 1) * PAGE)
    return _render(request, "households.html", who, rows=rows[:PAGE], page=page, more=len(rows) > PAGE)


@router.get("/households/{household_id}", response_class=HTMLResponse)
def household_page(request: Request, household_id: str, who: Who, whatif: str = "",
                   done: str = "") -> HTMLResponse:
    ctx = _ctx(request)
    h = ctx.household(who, household_id)
    facts = household_out(ctx, h)
    plan = household_plan_out(ctx, h)
    holdings = lots_out(ctx, h)
    by_account: dict[str, list[Any]] = {}
    for lot in holdings.lots:
        by_account.setdefault(lot.account, []).append(lot)
    changes = [c.strip() for c in whatif.replace(",", "\n").splitlines() if c.strip()]
    scenario, scenario_error = None, None
    if changes:
        try:
            scenario = household_what_if(ctx.cycle, h, changes)
        except EngineError as exc:
            scenario_error = error_body(exc)["error"]
    pending, _ = queue(ctx, who, ProposalStatus.PROPOSED, h.id)
    fans = [(g, fan_chart(g.goal_id, g.name, g.bands, target=g.target, years=g.years,
                          start_year=plan.as_of.year, percentiles=plan.percentiles))
            for g in plan.goals if g.bands is not None and len(g.bands) >= 2]
    return _render(request, "household.html", who, h=facts, plan=plan, holdings=holdings, by_account=by_account,
                   fans=fans,
                   whatif=whatif, scenario=scenario, scenario_error=scenario_error, pending=pending,
                   kinds=[k.value for k in LifeEventKind], done=done,
                   may_record=who.may(Action.RECORD_EVENT, h.id))


@router.post("/households/{household_id}/events")
def record_event_form(request: Request, household_id: str, who: Who, kind: Annotated[str, Form()],
                      on: Annotated[date, Form()], member: Annotated[str, Form()] = "",
                      amount: Annotated[str, Form()] = "", csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_form(request, csrf)
    ctx = _ctx(request)
    ctx.household(who, household_id)
    who.require(Action.RECORD_EVENT, household_id, f"household {household_id!r}")
    try:
        value = Decimal(amount.replace(",", "").replace("$", "")) if amount.strip() else None
    except ArithmeticError:
        raise ValidationError("the amount must be a number of dollars", field="amount", value=amount) from None
    event = LifeEvent(kind=LifeEventKind(kind), on=on, member=member or None, amount=value, applied=False)
    ctx.cycle.record_event(household_id, event, actor=who.actor)
    return RedirectResponse(f"/households/{quote(household_id)}?done=event", status_code=303)


@router.get("/proposals/{proposal_id}", response_class=HTMLResponse)
def proposal_page(request: Request, proposal_id: str, who: Who, done: str = "") -> HTMLResponse:
    ctx = _ctx(request)
    p = ctx.proposal(who, proposal_id)
    detail = proposal_detail(ctx, p)
    accounts = {a.id: a for a in ctx.store.households.get(p.household).accounts}
    per_account: dict[str, list[Any]] = {}
    for o in detail.order_list:
        per_account.setdefault(o.account, []).append(o)
    return _render(request, "proposal.html", who, p=detail, per_account=per_account, accounts=accounts, done=done,
                   charts=_holdings_charts(detail, accounts),
                   may_decide=who.may(Action.APPROVE, p.household) and p.status is ProposalStatus.PROPOSED,
                   may_execute=who.may(Action.EXECUTE, p.household) and _executable(p))


def _holdings_charts(detail: Any, accounts: dict[str, Any]) -> list[Any]:
    """One now-vs-target chart per account, all on the page's largest weight (so accounts compare)."""
    rows: dict[str, list[HoldingRow]] = {}
    for x in detail.holdings:
        rows.setdefault(x.account, []).append(HoldingRow(x.symbol, x.weight, x.target))
    scale = max((max(r.now, r.target) for group in rows.values() for r in group), default=0.0)
    return [((accounts[a].name or a) if a in accounts else a,
             holdings_chart(a, (accounts[a].name or a) if a in accounts else a, group, scale=scale))
            for a, group in rows.items()]


def _executable(p: Any) -> bool:
    """Show the execute form: approved (or left executing), or proposed without needing approval."""
    if p.status in (ProposalStatus.APPROVED, ProposalStatus.EXECUTING):
        return True
    return p.status is ProposalStatus.PROPOSED and not p.needs_approval


def _decide(request: Request, proposal_id: str, who: Principal, csrf: str | None, reason: str,
            status: ProposalStatus) -> Response:
    _check_form(request, csrf)
    ctx = _ctx(request)
    p = ctx.proposal(who, proposal_id)
    who.require(Action.APPROVE, p.household, f"proposal {proposal_id!r}")
    if status is ProposalStatus.REJECTED and not reason.strip():
        raise ValidationError("a rejection needs a reason", field="reason", fix="say why in the reason box")
    move = ctx.cycle.approve if status is ProposalStatus.APPROVED else ctx.cycle.reject
    move(proposal_id, actor=who.actor, reason=reason.strip())
    return RedirectResponse(f"/proposals/{quote(proposal_id)}?done={status.value}", status_code=303)


@router.post("/proposals/{proposal_id}/approve")
def approve_form(request: Request, proposal_id: str, who: Who, reason: Annotated[str, Form()] = "",
                 csrf: Annotated[str | None, Form()] = None) -> Response:
    return _decide(request, proposal_id, who, csrf, reason, ProposalStatus.APPROVED)


@router.post("/proposals/{proposal_id}/reject")
def reject_form(request: Request, proposal_id: str, who: Who, reason: Annotated[str, Form()] = "",
                csrf: Annotated[str | None, Form()] = None) -> Response:
    return _decide(request, proposal_id, who, csrf, reason, ProposalStatus.REJECTED)


@router.post("/proposals/{proposal_id}/execute")
def execute_form(request: Request, proposal_id: str, who: Who,
                 csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_form(request, csrf)
    ctx = _ctx(request)
    report = ctx.execute(who, proposal_id)
    return RedirectResponse(f"/proposals/{quote(proposal_id)}?done={report.status.value}", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, who: Who, household: str = "") -> HTMLResponse:
    entries = audit_for(_ctx(request), who, household or None, 300)
    return _render(request, "audit.html", who, entries=list(reversed(entries)), household=household)

"""The REST API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``, docs at ``/api/docs``).

    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/v1/proposals?status=proposed
    curl -X POST -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: $(uuidgen)" \\
         -d '{"reason": "checked the tax preview"}' http://127.0.0.1:8000/api/v1/proposals/$ID/approve

Authentication: an API token (``robo user token USER``) as ``Authorization: Bearer robo_…``. Every POST takes an
``Idempotency-Key``: a retry with the same key and body replays the first response (``Idempotent-Replayed:
true``); the same key with another body is a 422; a retry while the first is still running is a 409
(draft-ietf-httpapi-idempotency-key-header §2.7). Errors are ``{"error": {type, message, field, value, fix}}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from engine.config import household_from_dict, household_to_dict
from engine.config.strict_yaml import strict_load
from engine.errors import ConfigError, Conflict, EngineError, ValidationError
from engine.model import Household, LifeEvent, ProposalStatus
from engine.store import Role, TokenKind
from service.auth import Action, Forbidden, Principal, Unauthenticated, authenticate_token
from service.context import ServiceContext
from service.errors import error_body, status_of
from service.planning import household_what_if
from service.schemas import (
    AuditOut,
    DecisionIn,
    ErrorOut,
    HouseholdOut,
    HouseholdSummary,
    LifeEventIn,
    LotsOut,
    MeOut,
    PlanOut,
    ProposalDetail,
    ProposalSummary,
    SchedulerStatusOut,
    WhatIfIn,
    WhatIfOut,
)
from service.views import (
    audit_for,
    household_out,
    household_plan_out,
    household_summaries,
    lots_out,
    plan_out,
    proposal_detail,
    proposal_summary,
    queue,
)

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no or invalid API token"},
    403: {"model": ErrorOut, "description": "visible, but this role may not do it"},
    404: {"model": ErrorOut, "description": "missing, or not visible to you (the same answer)"},
    409: {"model": ErrorOut, "description": "not legal in the current state, or a concurrent change won"},
    422: {"model": ErrorOut, "description": "a value breaks a rule (field, value and fix say which)"},
}

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


def context(request: Request) -> ServiceContext:
    return request.app.state.ctx


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The principal of an API token (``Authorization: Bearer robo_…``).

    Raises:
        Unauthenticated: no token, or one that is invalid, revoked, expired or of a deactivated user.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an API token: Authorization: Bearer robo_… (robo user token USER)")
    who = authenticate_token(context(request).store, token.strip(), kind=TokenKind.API)
    request.state.principal = who
    return who


Ctx = Annotated[ServiceContext, Depends(context)]
Who = Annotated[Principal, Depends(principal)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", description="makes a retried POST safe")]


def _once(ctx: ServiceContext, who: Principal, key: str | None, request: Request, body: BaseModel | bytes | None,
          work: Callable[[], Any], status_code: int = 200) -> JSONResponse:
    """Run a POST once per ``Idempotency-Key`` (per user); the first response, errors included, is replayed."""

    def respond() -> JSONResponse:
        try:
            return JSONResponse(_jsonable(work()), status_code=status_code)
        except (EngineError, Forbidden) as exc:
            return JSONResponse(error_body(exc), status_code=status_of(exc))

    if key is None:
        return respond()
    path = request.url.path
    payload = "" if body is None else body.decode("utf-8", "replace") if isinstance(body, bytes) else (
        body.model_dump_json())
    fingerprint = hashlib.sha256(f"{request.method} {path}\n{payload}".encode()).hexdigest()
    earlier = ctx.store.users.claim_key(who.actor, key, method=request.method, path=path, fingerprint=fingerprint)
    if earlier is not None:
        if earlier.fingerprint != fingerprint:
            raise ValidationError("this Idempotency-Key was used for a different request", field="Idempotency-Key",
                                  value=key, fix="use a new key for a new request")
        if not earlier.finished:
            raise Conflict("a request with this Idempotency-Key is still running", fix="retry in a moment")
        return JSONResponse(earlier.response, status_code=earlier.status_code or 200,
                            headers={"Idempotent-Replayed": "true"})
    try:
        response = respond()
    except BaseException:
        ctx.store.users.release_key(who.actor, key)  # an unexpected failure: let the client retry under the key
        raise
    ctx.store.users.finish_key(who.actor, key, status_code=response.status_code,
                               response=json.loads(bytes(response.body)))
    return response


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Who am I, households, plans
# ---------------------------------------------------------------------------------------------


@router.get("/me", response_model=MeOut, summary="The signed-in user and the households they may see")
def me(who: Who) -> MeOut:
    return MeOut(id=who.user.id, name=who.user.name, role=who.role.value, firm=who.user.firm,
                 households=None if who.role is not Role.CLIENT else sorted(who.households or ()))


@router.get("/households", response_model=list[HouseholdSummary], summary="Households you may see, by id")
def households(ctx: Ctx, who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> list[HouseholdSummary]:
    return household_summaries(ctx, who, limit=limit, offset=offset)


@router.get("/households/{household_id}", response_model=HouseholdOut, summary="A household's facts")
def household(household_id: str, ctx: Ctx, who: Who) -> HouseholdOut:
    return household_out(ctx, ctx.household(who, household_id))


_DOCUMENT = {"requestBody": {"required": True, "description": (
    "The household document: the same fields as a household YAML file (config/households/sample.yaml), as JSON "
    "(numbers as strings keep money exact) or as YAML (Content-Type: application/yaml)."), "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/yaml": {"schema": {"type": "string"}}}}}
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
_BODY = "request body"


def household_document(ctx: ServiceContext, raw: bytes, content_type: str) -> Household:
    """The household a request body describes, validated by the engine's loader against the planner's universe.

    Raises:
        ConfigError: not UTF-8, broken JSON/YAML, an unsupported Content-Type, or a field the loader refuses (the
            error names the field, the value and the fix).
    """
    kind = content_type.split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("the body is not UTF-8 text", file=_BODY, fix="send the document as UTF-8") from None
    if kind in ("application/json", "") or kind.endswith("+json"):
        try:
            data = json.loads(text, parse_float=Decimal)  # money stays exact: 1234.56 is Decimal, never a float
        except json.JSONDecodeError as exc:
            raise ConfigError(f"broken JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=_BODY,
                              fix="send one JSON object (or YAML with Content-Type: application/yaml)") from None
    elif kind in _YAML_TYPES:
        data = strict_load(text, file=_BODY)  # duplicate keys refused, aliases bounded, money kept as its text
    else:
        raise ConfigError("unsupported Content-Type", field="Content-Type", value=kind,
                          fix="send application/json or application/yaml")
    if not isinstance(data, dict):
        raise ConfigError("expected a household document (an object with id, name, members, accounts, ...)",
                          file=_BODY, value=type(data).__name__, fix="see config/households/sample.yaml")
    return household_from_dict(data, file=_BODY, universe=ctx.cycle.planner.universe)


def _serving_firm(who: Principal, firm: str | None) -> str | None:
    """The firm that will serve an imported household: an advisor's own; an admin's choice (or none)."""
    if who.role is Role.CLIENT:
        raise Forbidden("a client may not import households; ask your advisor")
    if who.role is Role.ADVISOR:
        if firm is not None and firm != who.user.firm:
            raise Forbidden("an advisor imports households into their own firm")
        return who.user.firm
    return firm


@router.post("/households", response_model=HouseholdOut, status_code=201, openapi_extra=_DOCUMENT,
             summary="Import a household (the household YAML as JSON or YAML), validated like "
                     "'robo household import'; an advisor's firm serves it")
async def import_household(request: Request, ctx: Ctx, who: Who, idempotency_key: IdemKey = None,
                           firm: Annotated[str | None, Query(description="admins: the firm serving it")] = None,
                           ) -> JSONResponse:
    raw = await request.body()

    def work() -> HouseholdOut:
        serving = _serving_firm(who, firm)  # a client is refused before the body is even read
        h = household_document(ctx, raw, request.headers.get("content-type", ""))
        try:
            ctx.store.households.add(h, actor=who.actor, firm=serving)
        except Conflict:
            fix = (f"replace it with PUT /api/v1/households/{h.id}" if who.sees(h.id)
                   else "household ids are unique across firms: choose another id")
            raise Conflict(f"household id {h.id!r} is taken", field="id", value=h.id, fix=fix) from None
        return household_out(ctx, ctx.store.households.get(h.id))

    return await run_in_threadpool(_once, ctx, who, idempotency_key, request, raw, work, 201)


@router.put("/households/{household_id}", response_model=HouseholdOut, openapi_extra=_DOCUMENT,
            summary="Replace a household's facts with a new document (members, accounts, lots, goals, ...); "
                    "audited with before and after")
async def replace_household(household_id: str, request: Request, ctx: Ctx, who: Who) -> HouseholdOut:
    raw = await request.body()

    def work() -> HouseholdOut:
        ctx.household(who, household_id)
        who.require(Action.MANAGE, household_id, f"household {household_id!r}")
        h = household_document(ctx, raw, request.headers.get("content-type", ""))
        if h.id != household_id:
            raise ValidationError("the document's id is not the household's in the URL", field="id", value=h.id,
                                  fix=f"send id: {household_id} (a household's id never changes)")
        ctx.store.households.update(h, actor=who.actor)
        return household_out(ctx, ctx.store.households.get(household_id))

    return await run_in_threadpool(work)


@router.get("/households/{household_id}/document", summary="The household as an import document (the YAML's "
            "fields as JSON): GET, change, PUT back", responses={200: {"description": "the household document"}})
def household_doc(household_id: str, ctx: Ctx, who: Who) -> JSONResponse:
    return JSONResponse(household_to_dict(ctx.household(who, household_id)))


@router.get("/households/{household_id}/lots", response_model=LotsOut,
            summary="Open lots with market value and unrealized gain on the planning day")
def lots(household_id: str, ctx: Ctx, who: Who) -> LotsOut:
    return lots_out(ctx, ctx.household(who, household_id))


@router.get("/households/{household_id}/plan", response_model=PlanOut,
            summary="Each goal's probability of being met, funded ratio and gap")
def plan(household_id: str, ctx: Ctx, who: Who) -> PlanOut:
    return household_plan_out(ctx, ctx.household(who, household_id))


@router.post("/households/{household_id}/what-if", response_model=WhatIfOut,
             summary="The plan before and after changes such as retire-at=67 (nothing is saved)")
def what_if(household_id: str, body: WhatIfIn, ctx: Ctx, who: Who) -> WhatIfOut:
    h = ctx.household(who, household_id)
    view = household_what_if(ctx.cycle, h, body.changes, body.target_probability)
    return WhatIfOut(changes=list(view.changes), before=plan_out(view.before), after=plan_out(view.after),
                     focus=view.focus, target_probability=view.target_probability,
                     savings_needed=view.savings_needed, lines=list(view.lines))


@router.post("/households/{household_id}/events", response_model=HouseholdOut, status_code=200,
             summary="Record a life event; the cycle applies it and the household is re-planned")
def record_event(household_id: str, body: LifeEventIn, request: Request, ctx: Ctx, who: Who,
                 idempotency_key: IdemKey = None) -> JSONResponse:
    def work() -> HouseholdOut:
        who.require(Action.RECORD_EVENT, household_id, f"household {household_id!r}")
        ctx.household(who, household_id)
        kw = {"id": body.id} if body.id else {}
        event = LifeEvent(kind=body.kind, on=body.on, member=body.member, amount=body.amount, details=body.details,
                          applied=False, **kw)
        return household_out(ctx, ctx.cycle.record_event(household_id, event, actor=who.actor))

    return _once(ctx, who, idempotency_key, request, body, work)


# ---------------------------------------------------------------------------------------------
# Proposals
# ---------------------------------------------------------------------------------------------


@router.get("/proposals", response_model=list[ProposalSummary],
            summary="The approval queue across your households (filter by status and household), paged; "
                    "X-Total-Count has the total")
def proposals(response: Response, ctx: Ctx, who: Who, status: ProposalStatus | None = None,
              household: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0)] = 0) -> list[ProposalSummary]:
    rows, total = queue(ctx, who, status, household, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return rows


@router.get("/proposals/{proposal_id}", response_model=ProposalDetail,
            summary="Orders with routes, explanation, binding constraints, tax preview and history")
def proposal(proposal_id: str, ctx: Ctx, who: Who) -> ProposalDetail:
    return proposal_detail(ctx, ctx.proposal(who, proposal_id))


def _decide(status: ProposalStatus, proposal_id: str, body: DecisionIn, request: Request, ctx: ServiceContext,
            who: Principal, key: str | None) -> JSONResponse:
    def work() -> ProposalSummary:
        p = ctx.proposal(who, proposal_id)
        who.require(Action.APPROVE, p.household, f"proposal {proposal_id!r}")
        if status is ProposalStatus.REJECTED and not body.reason.strip():
            raise ValidationError("a rejection needs a reason", field="reason", value=body.reason,
                                  fix="say why, e.g. 'client wants to wait for the bonus'")
        move = ctx.cycle.approve if status is ProposalStatus.APPROVED else ctx.cycle.reject
        return proposal_summary(move(proposal_id, actor=who.actor, reason=body.reason.strip()))

    return _once(ctx, who, key, request, body, work)


@router.post("/proposals/{proposal_id}/approve", response_model=ProposalSummary,
             summary="Approve (you are the audit actor); 409 unless the proposal is still proposed")
def approve(proposal_id: str, body: DecisionIn, request: Request, ctx: Ctx, who: Who,
            idempotency_key: IdemKey = None) -> JSONResponse:
    return _decide(ProposalStatus.APPROVED, proposal_id, body, request, ctx, who, idempotency_key)


@router.post("/proposals/{proposal_id}/reject", response_model=ProposalSummary,
             summary="Reject with a reason; it can never be executed")
def reject(proposal_id: str, body: DecisionIn, request: Request, ctx: Ctx, who: Who,
           idempotency_key: IdemKey = None) -> JSONResponse:
    return _decide(ProposalStatus.REJECTED, proposal_id, body, request, ctx, who, idempotency_key)


@router.post("/proposals/{proposal_id}/execute", summary="Execute: broker accounts traded, held-away accounts advised",
             responses={200: {"description": "the execution report (money and shares as strings)"}})
def execute(proposal_id: str, request: Request, ctx: Ctx, who: Who, idempotency_key: IdemKey = None) -> JSONResponse:
    def work() -> dict[str, Any]:
        return ctx.execute(who, proposal_id).to_dict()

    return _once(ctx, who, idempotency_key, request, None, work)


# ---------------------------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------------------------


@router.get("/audit", response_model=list[AuditOut], summary="The audit timeline you may see, oldest first")
def audit(ctx: Ctx, who: Who, household: str | None = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[AuditOut]:
    return audit_for(ctx, who, household, limit)


@router.get("/scheduler", response_model=SchedulerStatusOut,
            summary="The scheduler's status ('robo schedule status --json'): next due jobs, recent runs, pauses, "
                    "wake-ups, alerts — an advisor sees their firm's households and the all-household jobs")
def scheduler(ctx: Ctx, who: Who, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> SchedulerStatusOut:
    st = ctx.scheduler_status(who, limit=limit)
    return SchedulerStatusOut.model_validate({
        "now": st.now,
        "upcoming": [{"job": w.job.value, "trading_day": w.trading_day, "due": w.due, "until": w.until}
                     for w in st.upcoming],
        "recent": [{"job": r.job, "household": r.household, "trading_day": r.trading_day, "status": r.status.value,
                    "attempt": r.attempt, "started": r.started, "error": r.error} for r in st.recent],
        "paused": [{"household": p.household, "at": p.at, "actor": p.actor, "reason": p.reason} for p in st.paused],
        "wakeups": [{"household": w.household, "reason": w.reason, "ref": w.ref} for w in st.wakeups],
        "alerts": [{"at": a.at, "job": a.job, "household": a.household, "trading_day": a.trading_day,
                    "message": a.message} for a in st.alerts],
    })


@router.get("/users", summary="Every user (admins only)", response_model=list[MeOut])
def users(ctx: Ctx, who: Who) -> list[MeOut]:
    if who.role is not Role.ADMIN:
        raise Forbidden("only an admin lists users")
    return [MeOut(id=u.id, name=u.name, role=u.role.value, firm=u.firm,
                  households=list(u.households) if u.role is Role.CLIENT else None)
            for u in ctx.store.users.list()]

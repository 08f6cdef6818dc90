"""The ASGI app: the REST API (``/api/v1``) and the server-rendered pages over one store and one cycle.

    app = create_app(store, lambda: Cycle(Planner(MarketData.embedded()), store=store, rails=rails))
    serve(app, host="127.0.0.1", port=8000)            # uvicorn, as ``robo serve`` does

FastAPI and uvicorn live only in ``service/``. The app holds no business rules: it asks the store what a
principal may see, the planner for plans and the cycle for every change (approve, reject, execute, life events).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from engine.cycle import BrokerSource, Cycle
from engine.errors import EngineError, ValidationError
from engine.model import Household, Proposal
from engine.store import Store
from service import api, pages
from service.auth import Forbidden, SignInLimit, Unauthenticated
from service.context import ServiceContext
from service.errors import error_body, status_of

if TYPE_CHECKING:
    from engine.scheduler import SchedulerConfig

__all__ = ["create_app", "serve"]

HERE = Path(__file__).resolve().parent


def create_app(
    store: Store,
    cycle_factory: Callable[[], Cycle],
    *,
    brokers_for: Callable[[Household, Proposal], BrokerSource] | None = None,
    secure_cookies: bool = False,
    sign_in_limit: SignInLimit | None = None,
    scheduler_config: SchedulerConfig | None = None,
) -> FastAPI:
    """The service over ``store`` (migrated to head) and the cycle ``cycle_factory()`` builds on first use.

    Args:
        store: the store the CLI and scheduler share.
        cycle_factory: builds the one ``Cycle`` (planner with market data, the store, rails); called once, lazily.
        brokers_for: ``(household, proposal) →`` the brokers that execute it (``None``: the cycle's ``brokers``).
        secure_cookies: mark the session cookie ``Secure`` (set it when served over HTTPS).
        sign_in_limit: failed sign-ins allowed per user name and per client address (default 10 per 15 minutes).
        scheduler_config: what ``GET /api/v1/scheduler`` reports on (default ``config/scheduler.yaml``).
    """
    app = FastAPI(
        title="adaptive-robo",
        summary="Advisor and client service: approval queue, proposals, plans, life events, audit.",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.ctx = ServiceContext(store, cycle_factory, brokers_for, scheduler_config)
    app.state.secure_cookies = secure_cookies
    app.state.sign_in_limit = sign_in_limit or SignInLimit()
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(EngineError)
    @app.exception_handler(Unauthenticated)
    @app.exception_handler(Forbidden)
    async def _engine_error(request: Request, exc: Exception) -> Response:
        status = status_of(exc)
        if _is_api(request):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse(error_body(exc), status_code=status, headers=headers)
        if status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return pages.error_page(request, exc, status)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        if not _is_api(request):  # a form field the page's browser sent badly (e.g. an impossible date)
            return pages.error_page(request, ValidationError(first.get("msg", "invalid form"), field=where or None,
                                                             fix="correct the field and send the form again"), 422)
        body = {"error": {"type": "ValidationError", "message": first.get("msg", "invalid request"),
                          "field": where or None, "value": _short(first.get("input")),
                          "fix": "see the request schema at /api/docs"}}
        return JSONResponse(body, status_code=422)

    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _short(value: object) -> object:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)[:200]


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run ``app`` under uvicorn in this process until interrupted (``robo serve``); uvicorn stays in ``service/``."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level)

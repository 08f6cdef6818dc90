"""The advisor and client service: a REST API and server-rendered pages over the one cycle (FastAPI lives here).

    from service import create_app
    app = create_app(store, cycle_factory=lambda: Cycle(Planner(MarketData.embedded()), store=store, rails=rails))

Start it with ``robo serve``; see docs/service.md for signing in and the permission matrix.
"""

from service.app import create_app, serve

__all__ = ["create_app", "serve"]

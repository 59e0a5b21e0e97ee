"""The simulator's ASGI app: Evolution v2 routes, /_sim/ control routes and the phone page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from . import control, evolution, phone
from .config import SimulatorConfig
from .engine import Simulator
from .wire import EvolutionError


async def express_not_found(request: Request, exc: Exception) -> Response:
    """Unknown route or wrong method: Express answers 404 `Cannot <METHOD> <path>` in the envelope."""
    status = getattr(exc, "status_code", 404)
    if status not in (404, 405):
        return EvolutionError(status, [str(getattr(exc, "detail", ""))]).response()
    return EvolutionError(404, [f"Cannot {request.method} {request.url.path}"]).response()


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """Build the app around one in-memory Simulator."""
    config = config or SimulatorConfig.from_env()
    sim = Simulator(replace(config))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sim.start()
        try:
            yield
        finally:
            await sim.stop()

    app = Starlette(
        routes=[*evolution.ROUTES, *control.ROUTES, *phone.ROUTES],
        exception_handlers={HTTPException: express_not_found},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.sim = sim
    app.state.base_config = config
    return app

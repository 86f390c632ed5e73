"""How every service's processes run: an app whose lifespan owns the bus runtime.

- `api`: the service's HTTP app; its bus runtime only relays the outbox (requests write events).
- `worker`: a small ops app (health, readiness, metrics) whose runtime consumes and relays.
- `all`: the HTTP app with the consuming runtime, for local runs.
uvicorn owns signal handling: on SIGTERM it stops accepting, the lifespan drains the consumer and
stops the relay after its batch, then the process exits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from events.runtime import BusRuntime
from servicekit.health import bus_check, database_check
from servicekit.http import ReadinessCheck, create_app

Closer = Callable[[], Awaitable[Any]]


def lifespan(
    runtime: BusRuntime | None,
    *,
    on_start: list[Callable[[], Awaitable[Any]]] | None = None,
    on_stop: list[Closer] | None = None,
) -> Callable[[FastAPI], Any]:
    """A lifespan that starts `runtime` (and extra starters) and stops all in reverse order."""

    @asynccontextmanager
    async def run(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for closer in on_stop or []:
                stack.push_async_callback(closer)
            for starter in on_start or []:
                await starter()
            if runtime is not None:
                await runtime.start()
                stack.push_async_callback(runtime.stop)
            yield

    return run


def _readiness(engine: AsyncEngine, runtime: BusRuntime) -> dict[str, ReadinessCheck]:
    return {"database": database_check(engine), "broker": bus_check(runtime)}


def service_app(
    *,
    title: str,
    description: str,
    runtime: BusRuntime,
    engine: AsyncEngine,
    include_routes: Callable[[FastAPI], None],
    state: dict[str, Any],
    on_start: list[Callable[[], Awaitable[Any]]] | None = None,
    on_stop: list[Closer] | None = None,
) -> FastAPI:
    """A service's HTTP API; its runtime relays the outbox (and consumes too in `all` mode)."""
    app = create_app(
        title=title,
        description=description,
        lifespan=lifespan(runtime, on_start=on_start, on_stop=on_stop),
        readiness=_readiness(engine, runtime),
    )
    for key, value in state.items():
        setattr(app.state, key, value)
    include_routes(app)
    return app


def worker_app(
    *,
    title: str,
    runtime: BusRuntime,
    engine: AsyncEngine,
    on_start: list[Callable[[], Awaitable[Any]]] | None = None,
    on_stop: list[Closer] | None = None,
) -> FastAPI:
    """The worker's HTTP face: /healthz, /readyz and /metrics only."""
    return create_app(
        title=f"{title} worker",
        description="Health, readiness and metrics of the event consumer.",
        lifespan=lifespan(runtime, on_start=on_start, on_stop=on_stop),
        readiness=_readiness(engine, runtime),
    )

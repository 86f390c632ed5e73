"""How every service's processes run, from its declaration.

- `api`: the HTTP app; its bus runtime relays the outbox (requests write events) and consumes
  nothing. Its ops app (metrics, health, admin routes) listens on the admin port.
- `worker`: the ops app (health, readiness, metrics, admin routes) whose runtime consumes and
  relays, with the service's periodic jobs and extra listeners beside it.
- `all`: the HTTP app with everything the worker runs, for local runs; the ops app beside it.

The public app never serves /metrics or the admin routes: those are on a port that is not
published.

Components start in order and stop in reverse (the bus before the jobs that publish through it
would be wrong: jobs stop first, then listeners, then the bus, then the container's clients and
engine). uvicorn owns signal handling: on SIGTERM it stops accepting, the lifespan drains the
consumer and stops the relay after its batch, then the process exits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from events.runtime import BusRuntime
from servicekit.container import ServiceContainer
from servicekit.health import bus_check, database_check
from servicekit.http import ReadinessCheck, create_app
from servicekit.jobs import JobRunner
from servicekit.service import Component, Service


def _components(
    service: Service[Any], container: ServiceContainer, *, consume: bool, role: str
) -> tuple[BusRuntime, list[Component]]:
    runtime = BusRuntime(
        service=service.name,
        settings=container.settings.bus,
        engine=container.engine,
        router=service.router(container) if consume else None,
        role=role,
    )
    components: list[Component] = [runtime]
    if consume:
        for listener in service.listeners:
            built = listener.build(container)
            if built is not None:
                components.append(built)
        if service.jobs:
            settings = container.settings
            components.append(
                JobRunner(
                    [
                        (job.name, container.bound(job.run), job.every(settings).total_seconds())
                        for job in service.jobs
                    ]
                )
            )
    return runtime, components


def _lifespan(container: ServiceContainer, components: list[Component]) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def run(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(container.close)  # last out: adapters and the engine
            for component in components:
                await component.start()
                stack.push_async_callback(component.stop)
            yield

    return run


def _readiness(
    service: Service[Any], container: ServiceContainer, runtime: BusRuntime
) -> dict[str, ReadinessCheck]:
    checks = {"database": database_check(container.engine), "broker": bus_check(runtime)}
    if service.backends is not None:
        checks.update(service.backends(container))
    return checks


def api_app(
    service: Service[Any], container: ServiceContainer, *, consume: bool = False
) -> FastAPI:
    """The service's HTTP API; with `consume`, the worker's components run in it too (`all`)."""
    runtime, components = _components(
        service, container, consume=consume, role="all" if consume else "api"
    )
    app = create_app(
        title=service.name,
        description=service.description,
        lifespan=_lifespan(container, components),
        readiness=_readiness(service, container, runtime),
        metrics=False,
        max_body_bytes=container.settings.max_body_bytes,
    )
    app.state.container = container
    app.state.components = components
    app.state.runtime = runtime
    for router in service.routers:
        app.include_router(router)
    return app


def ops_app(
    service: Service[Any],
    container: ServiceContainer,
    runtime: BusRuntime,
    *,
    lifespan: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    """Health, readiness, metrics and the admin routes, for the ops port."""
    app = create_app(
        title=f"{service.name} ops",
        description="Health, readiness, metrics and operator routes (not published).",
        lifespan=lifespan,
        readiness=_readiness(service, container, runtime),
        max_body_bytes=container.settings.max_body_bytes,
    )
    app.state.container = container
    for router in service.admin_routers:
        app.include_router(router)
    return app


def worker_app(service: Service[Any], container: ServiceContainer) -> FastAPI:
    """The worker's HTTP face: the ops app, running the consumer, relay, jobs and listeners."""
    runtime, components = _components(service, container, consume=True, role="worker")
    app = ops_app(service, container, runtime, lifespan=_lifespan(container, components))
    app.state.components = components
    return app


def ops_app_of(service: Service[Any], api: FastAPI) -> FastAPI:
    """The ops app beside an api app built by `api_app` (same container and bus runtime)."""
    return ops_app(service, api.state.container, api.state.runtime)

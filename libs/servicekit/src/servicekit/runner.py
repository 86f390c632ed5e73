"""How every service's processes run, from its declaration.

- `api`: the HTTP app; its bus runtime relays the outbox (requests write events) and consumes
  nothing.
- `worker`: a small ops app (health, readiness, metrics) whose runtime consumes and relays, with
  the service's periodic jobs and extra listeners beside it.
- `all`: the HTTP app with everything the worker runs, for local runs.

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
    )
    app.state.container = container
    app.state.components = components
    for router in service.routers:
        app.include_router(router)
    return app


def worker_app(service: Service[Any], container: ServiceContainer) -> FastAPI:
    """The worker's HTTP face: /healthz, /readyz and /metrics only."""
    runtime, components = _components(service, container, consume=True, role="worker")
    app = create_app(
        title=f"{service.name} worker",
        description="Health, readiness and metrics of the event consumer.",
        lifespan=_lifespan(container, components),
        readiness=_readiness(service, container, runtime),
    )
    app.state.container = container
    app.state.components = components
    return app

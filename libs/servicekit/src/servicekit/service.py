"""A service's declaration: everything servicekit needs to run it, in one object.

`bootstrap.py` in each service builds one `Service`: its settings class, how to build its
container, its HTTP routers, its event subscriptions, its periodic jobs, extra listeners and the
backends its readiness depends on. `python -m <service> api|worker|all|migrate` runs it (see
`entrypoint.py`), and the local runner and the e2e harness learn about the service from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from importlib.resources import files
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from fastapi import APIRouter
from sqlalchemy import MetaData

from events.envelope import EventData
from events.routing import Router
from servicekit.binding import bind
from servicekit.container import ServiceContainer
from servicekit.http import ReadinessCheck
from servicekit.jobs import Job
from servicekit.settings import ServiceSettings

C = TypeVar("C", bound=ServiceContainer)


class Component(Protocol):
    """Something the runner starts after the components before it and stops before them."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Subscribe:
    """Handle `events` delivered to the queue `<service>.<handler>` with a use case.

    The use case takes the delivery first; its keyword-only dependencies are bound from the
    container, and `args` adds fixed ones (which email a queue sends). `on_dead_letter` runs
    when a delivery is given up on, before it is parked (a fault event, a failed status).
    """

    handler: str
    events: tuple[type[EventData], ...]
    use_case: Callable[..., Awaitable[None]]
    on_dead_letter: Callable[..., Awaitable[None]] | None = None
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Listener:
    """An extra server the worker runs (notify's bounce listener); `build` may return None
    when the settings turn it off."""

    name: str
    build: Callable[[Any], Component | None]


@dataclass(frozen=True)
class Service(Generic[C]):
    name: str
    description: str
    settings: type[ServiceSettings]
    build: Callable[[Any], C]
    """The composition root: settings in, container out (nothing runs at import)."""
    routers: Sequence[APIRouter] = ()
    admin_routers: Sequence[APIRouter] = ()
    """Operator routes (lifting a suppression...): served on the ops port only, never on the
    public API; they authenticate operators themselves."""
    subscriptions: Sequence[Subscribe] = ()
    jobs: Sequence[Job] = ()
    listeners: Sequence[Listener] = ()
    backends: Callable[[C], Mapping[str, ReadinessCheck]] | None = None
    """Readiness checks beyond the database and the broker (object storage, cache, index)."""
    needs: tuple[str, ...] = ()
    """Backends beyond PostgreSQL and RabbitMQ (`s3`, `redis`, `smtp`, `search`): what a local
    runner must provide (see devkit.platform)."""
    commands: Mapping[str, Callable[[list[str]], int]] = field(default_factory=dict)
    """Extra `python -m <service> <command>` entries (keygen, reindex...)."""
    tables: tuple[MetaData, ...] = ()
    """Tables the migrations create beside the models' (a backend's own, as search's index)."""
    image_env: Mapping[str, str] = field(default_factory=dict)
    """Settings the image sets beyond host and ports (a listener bound to all interfaces)."""
    image_ports: tuple[int, ...] = ()
    """Ports the image exposes beyond the HTTP and worker ports."""

    def router(self, container: C) -> Router:
        """The bus router of this service, every handler bound to `container`."""
        router = Router(self.name)
        for sub in self.subscriptions:
            handle = bind(sub.use_case, container, sub.args)
            for model in sub.events:
                router.on(sub.handler, model, handle)
            if sub.on_dead_letter is not None:
                router.on_dead_letter(sub.handler, bind(sub.on_dead_letter, container, sub.args))
        return router

    def migrations_dir(self) -> Path:
        """`<package>/migrations`: the package's Alembic versions, shipped inside the wheel."""
        return Path(str(files(self.name))) / "migrations"

    def load_models(self) -> None:
        """Import the package's models so their tables are on SQLModel's metadata."""
        import_module(f"{self.name}.models")

    def ports(self) -> tuple[int, int]:
        """The default HTTP and worker ports (ARCHITECTURE.md's table)."""
        defaults = self.settings.model_fields
        return (
            int(defaults["http_port"].get_default()),
            int(defaults["worker_port"].get_default()),
        )

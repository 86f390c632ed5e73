"""The service shape: use cases bound by name, domain errors answering as problems, components
started in order and stopped in reverse, readiness built from what a service declares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from pydantic import SecretStr

from events.testing import wait_for
from servicekit.binding import MissingDependency, bind
from servicekit.container import ServiceContainer, open_database
from servicekit.deps import UseCase, use_case
from servicekit.errors import DomainError
from servicekit.http import Degraded
from servicekit.jobs import Job
from servicekit.problems import MEDIA_TYPE, responses
from servicekit.runner import api_app, worker_app
from servicekit.service import Listener, Service
from servicekit.settings import ServiceSettings
from servicekit.testing import client, running


class Settings(ServiceSettings):
    pass


class NotYours(DomainError):
    status, slug, title = 403, "not-yours", "Forbidden"
    detail = "This thing belongs to someone else."

    def headers(self) -> dict[str, str]:
        return {"X-Owner": "hidden"}

    def extensions(self) -> dict[str, Any]:
        return {"owner_known": False}


@dataclass(kw_only=True)
class Container(ServiceContainer):
    greeting: str
    log: list[str]


async def greet(name: str, *, greeting: str, log: list[str]) -> str:
    log.append(name)
    return f"{greeting}, {name}"


async def refuse(*, log: list[str]) -> None:
    raise NotYours()


def test_bind_fills_keyword_only_dependencies_by_name_and_names_what_is_missing() -> None:
    @dataclass
    class Provider:
        greeting: str

    bound = bind(greet, Provider("hello"), {"log": []})
    assert bound.__name__ == "greet"
    with pytest.raises(MissingDependency, match="greet needs 'log'"):
        bind(greet, Provider("hello"))


class Recorder:
    """A component that records when it starts and stops."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name, self.events = name, events

    async def start(self) -> None:
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")


Greet = Annotated[UseCase[str], Depends(use_case(greet))]
Refuse = Annotated[UseCase[None], Depends(use_case(refuse))]


def declare(events: list[str], backend_down: bool = False) -> Service[Container]:
    routes = APIRouter()

    @routes.get("/greet/{name}", responses=responses(NotYours))
    async def greeting(name: str, greet: Greet) -> dict[str, str]:
        return {"text": await greet(name)}

    @routes.get("/refuse")
    async def refusal(refuse_it: Refuse) -> None:
        await refuse_it()

    async def cache() -> None:
        if backend_down:
            raise Degraded("cache unreachable; reads come from the database")

    return Service(
        name="example",
        description="A service made for this test.",
        settings=Settings,
        build=lambda s: None,  # the test builds its container itself
        routers=[routes],
        jobs=[Job("tick", greet_job, lambda s: timedelta(hours=1))],
        listeners=[
            Listener("first", lambda c: Recorder("first", events)),
            Listener("off", lambda c: None),
            Listener("second", lambda c: Recorder("second", events)),
        ],
        backends=lambda c: {"cache": cache},
    )


async def greet_job(*, log: list[str]) -> None:
    log.append("job")


@pytest.fixture
async def container(fresh_database: str) -> AsyncIterator[Container]:
    settings = Settings(database_url=SecretStr(fresh_database))
    built = Container(settings=settings, engine=open_database(settings), greeting="hi", log=[])
    yield built
    await built.close()


async def test_routes_call_bound_use_cases_and_domain_errors_answer_as_problems(
    container: Container,
) -> None:
    app = api_app(declare([]), container)
    async with client(app) as http:
        assert (await http.get("/greet/ada")).json() == {"text": "hi, ada"}
        refused = await http.get("/refuse")
        assert refused.status_code == 403
        assert refused.headers["content-type"] == MEDIA_TYPE
        assert refused.headers["x-owner"] == "hidden"
        assert refused.json() == {
            "type": "https://portfolio.example/problems/not-yours",
            "title": "Forbidden",
            "status": 403,
            "detail": "This thing belongs to someone else.",
            "instance": "/refuse",
            "owner_known": False,
        }
        documented = app.openapi()["paths"]["/greet/{name}"]["get"]["responses"]["403"]
        assert MEDIA_TYPE in documented["content"]
    assert container.log == ["ada"]
    assert container.bound(greet) is container.bound(greet), "bound once, then cached"


async def test_components_start_in_order_and_stop_in_reverse_then_the_container_closes(
    container: Container, bus_settings: Any
) -> None:
    events: list[str] = []
    container.settings.bus = bus_settings
    container.on_close(lambda: _record(events, "container closed"))
    app = worker_app(declare(events), container)
    async with running(app):
        assert events == ["start first", "start second"], "a listener may be switched off"
        await wait_for(lambda: "job" in container.log, message="the job ran once at start")
    assert events[2:] == ["stop second", "stop first", "container closed"]


async def _record(events: list[str], what: str) -> None:
    events.append(what)


async def test_readiness_names_each_declared_backend_and_a_degraded_one_keeps_it_ready(
    container: Container,
) -> None:
    app = api_app(declare([], backend_down=True), container)
    async with client(app) as http:
        ready = await http.get("/readyz")
    # No bus runs without the lifespan, so the broker check fails: the cache's state is what
    # this test reads, and that it is reported as degraded rather than failing.
    assert ready.json()["checks"]["cache"].startswith("degraded: cache unreachable")
    assert ready.json()["checks"]["database"] == "ok"

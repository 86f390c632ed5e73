"""Fixtures of the image tests: the engine (a failure, never a skip, when none answers), images
that must have been built, and containers removed whatever happens."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devkit.images.catalog import IMAGES
from events.testing import wait_for

LABEL = "portfolio.tests.images"  # every container these tests start, for `docker ps -f label=`
HEALTH_TIMEOUT = 90.0


@pytest.fixture(scope="session")
def engine() -> Any:
    """A docker client whose engine answers."""
    import docker

    problem = None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        problem = (
            f"no container engine answers ({exc.__class__.__name__}: {exc}). "
            "Start one with `scripts/docker-engine.sh` (as root), then build the images with "
            "`scripts/images-local.sh`."
        )
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    return client


@pytest.fixture(scope="session")
def require_image(engine: Any) -> Callable[[str], str]:
    """The tag of a catalog image, failing with how to build it when it is absent."""
    import docker

    def require(name: str) -> str:
        tag = IMAGES[name].tag
        try:
            engine.images.get(tag)
        except docker.errors.ImageNotFound:
            pytest.fail(
                f"image {tag} is not built: run `scripts/images-local.sh {name}`", pytrace=False
            )
        return tag

    return require


@pytest.fixture(scope="session")
def testcontainers_offline() -> None:
    """testcontainers without Ryuk: its reaper image comes from Docker Hub, which is unreachable
    here. The tests remove their containers themselves."""
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = True


@pytest.fixture
def run_container(engine: Any) -> Iterator[Callable[..., Any]]:
    """Start containers (docker SDK `containers.run` arguments); all removed at the end."""
    started: list[Any] = []

    def run(image: str, command: list[str] | None = None, **kwargs: Any) -> Any:
        labels = {**kwargs.pop("labels", {}), LABEL: "1"}
        container = engine.containers.run(image, command, detach=True, labels=labels, **kwargs)
        started.append(container)
        return container

    yield run
    for container in reversed(started):
        _remove(container)


@pytest.fixture
def network(engine: Any) -> Iterator[Any]:
    """A user-defined network: containers on it reach each other by name."""
    created = engine.networks.create(f"images-test-{uuid.uuid4().hex[:8]}", labels={LABEL: "1"})
    yield created
    created.reload()
    for container in created.containers:  # a network cannot go while containers are on it
        _remove(container)
    created.remove()


def _remove(container: Any) -> None:
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)


def published_port(container: Any, port: int) -> int:
    container.reload()
    return int(container.ports[f"{port}/tcp"][0]["HostPort"])


async def wait_healthy(container: Any, timeout: float = HEALTH_TIMEOUT) -> None:
    """Until the image's HEALTHCHECK passes; a container that exits fails at once, with its log."""

    def healthy() -> bool:
        container.reload()
        state = container.attrs["State"]
        if state["Status"] in ("exited", "dead"):
            logs = container.logs(tail=30).decode(errors="replace")
            raise AssertionError(f"{container.image.tags} exited ({state['ExitCode']}):\n{logs}")
        return bool(state["Health"]["Status"] == "healthy")

    def describe() -> str:
        health = container.attrs["State"].get("Health", {})
        probes = [entry.get("Output", "").strip() for entry in health.get("Log", [])[-3:]]
        return f"{container.image.tags} not healthy: {health.get('Status')}; last probes {probes}"

    await wait_for(healthy, timeout=timeout, interval=0.2, message=describe)

"""FastAPI dependencies every service's `deps.py` builds its aliases from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

from fastapi import Request

from servicekit.container import ServiceContainer

R = TypeVar("R")

UseCase: TypeAlias = Callable[..., Awaitable[R]]
"""A bound use case as a route receives it: `Annotated[UseCase[User], Depends(use_case(f))]`."""


def container_of(request: Request) -> Any:
    """The container the runner put on the app (typed by each service's alias)."""
    return request.app.state.container


def use_case(fn: Callable[..., R]) -> Callable[[Request], Callable[..., R]]:
    """A dependency giving a route the use case `fn`, bound once to the app's container."""

    def dependency(request: Request) -> Callable[..., R]:
        container: ServiceContainer = request.app.state.container
        return container.bound(fn)

    dependency.__name__ = f"use_case_{fn.__name__}"
    return dependency
